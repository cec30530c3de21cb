// Tokens live in localStorage so a reload keeps the session; the user store
// and the HTTP layer both read them from here.
import type { TokenStore } from '@/api/core'
import type { TokenResult } from '@/api/types'

const ACCESS_KEY = 'remotegpu.accessToken'
const REFRESH_KEY = 'remotegpu.refreshToken'
const EXPIRES_KEY = 'remotegpu.accessExpiresAt'

export const tokenStorage: TokenStore = {
  getAccess: () => localStorage.getItem(ACCESS_KEY),
  getRefresh: () => localStorage.getItem(REFRESH_KEY),
  set(tokens: TokenResult) {
    localStorage.setItem(ACCESS_KEY, tokens.accessToken)
    localStorage.setItem(REFRESH_KEY, tokens.refreshToken)
    localStorage.setItem(EXPIRES_KEY, String(Date.now() + tokens.expiresIn * 1000))
  },
  clear() {
    localStorage.removeItem(ACCESS_KEY)
    localStorage.removeItem(REFRESH_KEY)
    localStorage.removeItem(EXPIRES_KEY)
  },
}

/** When the stored access token expires (ms since the epoch), or null when unknown. */
export function accessExpiresAt(): number | null {
  const raw = localStorage.getItem(EXPIRES_KEY)
  const n = raw === null ? NaN : Number(raw)
  return Number.isFinite(n) ? n : null
}

export function hasSession(): boolean {
  return !!(tokenStorage.getAccess() || tokenStorage.getRefresh())
}
