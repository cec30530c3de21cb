import { computed, ref } from 'vue'
import { defineStore } from 'pinia'
import * as authApi from '@/api/auth'
import type { LoginInput, Me } from '@/api/types'
import { hasSession, tokenStorage } from '@/utils/auth'
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

  return { me, role, isAdmin, isCustomer, homePath, hasSession, login, fetchMe, setMe, reset, logout }
})
