import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { ApiError } from '@/api/core'
import type { Me } from '@/api/types'
import { tokenStorage } from '@/utils/auth'

vi.mock('@/api/http', async (original) => {
  const real = await original<typeof import('@/api/http')>()
  return { ...real, http: { refreshAccess: vi.fn() } }
})
const { http } = await import('@/api/http')
const { useUserStore } = await import('./user')

function store(access: string, expiresInS: number) {
  localStorage.clear()
  tokenStorage.set({ accessToken: access, refreshToken: 'r1', expiresIn: expiresInS, user: {} as Me })
}

describe('freshAccessToken (the token of a WebSocket handshake)', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.mocked(http.refreshAccess).mockReset()
  })

  it('hands out a token that lives on without asking the API', async () => {
    store('a1', 900)
    expect(await useUserStore().freshAccessToken()).toBe('a1')
    expect(http.refreshAccess).not.toHaveBeenCalled()
  })

  it('refreshes a token about to expire, or when forced', async () => {
    vi.mocked(http.refreshAccess).mockResolvedValue('a2')
    store('a1', 30)
    expect(await useUserStore().freshAccessToken()).toBe('a2')
    store('a1', 900)
    expect(await useUserStore().freshAccessToken({ force: true })).toBe('a2')
    expect(http.refreshAccess).toHaveBeenCalledTimes(2)
  })

  it('says the session is over when the refresh is refused', async () => {
    vi.mocked(http.refreshAccess).mockRejectedValue(new ApiError({ status: 401, message: 'revoked' }))
    store('a1', 10)
    expect(await useUserStore().freshAccessToken()).toBeNull()
  })

  it('keeps the token it has when the API cannot be reached', async () => {
    vi.mocked(http.refreshAccess).mockRejectedValue(new ApiError({ status: 0, message: 'Network Error' }))
    store('a1', 10)
    expect(await useUserStore().freshAccessToken()).toBe('a1')
  })
})
