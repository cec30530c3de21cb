import { computed, ref } from 'vue'
import { defineStore } from 'pinia'
import * as authApi from '@/api/auth'
import { http, isApiError } from '@/api/http'
import type { LoginInput, Me } from '@/api/types'
import { accessExpiresAt, hasSession, tokenStorage } from '@/utils/auth'
import { homePathFor } from '@/router/home'

export const useUserStore = defineStore('user', () => {
  const me = ref<Me | null>(null)

  const role = computed(() => me.value?.role ?? null)
  const isAdmin = computed(() => role.value === 'admin')
  const isCustomer = computed(() => role.value === 'owner' || role.value === 'member')
  const homePath = computed(() => homePathFor(role.value))

  async function login(input: LoginInput): Promise<Me> {
    const result = await authApi.login(input)
    tokenStorage.set(result)
    me.value = result.user
    return result.user
  }

  async function fetchMe(): Promise<Me> {
    me.value = await authApi.getMe()
    return me.value
  }

  function setMe(next: Me) {
    me.value = next
  }

  /** Forget the session locally (tokens and user). */
  function reset() {
    tokenStorage.clear()
    me.value = null
  }

  /** Revoke the refresh token on the server, then forget the session. */
  async function logout() {
    const refreshToken = tokenStorage.getRefresh()
    reset()
    if (refreshToken) await authApi.logout(refreshToken).catch(() => undefined)
  }

  /**
   * The access token for a WebSocket handshake (which cannot refresh on 401
   * itself): refreshed first when it expires within `marginMs`, or when
   * `force` says the last handshakes were refused. Null when the session is
   * over (the refresh was refused, and the HTTP layer has sent the user to
   * the login page); the current token when the refresh could not be asked
   * (the API is down: the handshake fails and is retried).
   */
  async function freshAccessToken({ force = false, marginMs = 60_000 } = {}): Promise<string | null> {
    const token = tokenStorage.getAccess()
    const expires = accessExpiresAt()
    const fresh = token && (expires === null || expires - Date.now() > marginMs)
    if (fresh && !force) return token
    if (!tokenStorage.getRefresh()) return token
    try {
      return await http.refreshAccess()
    } catch (e) {
      if (isApiError(e) && e.status >= 400 && e.status < 500) return null
      return tokenStorage.getAccess()
    }
  }

  return { me, role, isAdmin, isCustomer, homePath, hasSession, login, fetchMe, setMe, reset, logout, freshAccessToken }
})
