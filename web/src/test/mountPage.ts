// Mount a page as the app would (Pinia, i18n, the real routes with their
// pages stubbed) for component tests whose API calls are mocked.
import { mount, flushPromises } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import type { Component } from 'vue'
import { i18n } from '@/locales'
import type { Me } from '@/api/types'
import { tokenStorage } from '@/utils/auth'
import { stubRoutes } from './stubRoutes'

/** A stored session (for pages that open a WebSocket with the access token). */
export function storeSession() {
  tokenStorage.set({ accessToken: 'test-access', refreshToken: 'test-refresh', expiresIn: 900, user: {} as Me })
}

export async function mountPage(page: Component, path: string, options: { session?: boolean } = {}) {
  localStorage.clear()
  if (options.session) storeSession()
  i18n.global.locale.value = 'zh-CN'
  const pinia = createPinia()
  setActivePinia(pinia)
  const router = createRouter({ history: createMemoryHistory(), routes: stubRoutes() })
  await router.push(path)
  // Real transitions: Element Plus shows form errors inside a transition-group.
  const wrapper = mount(page, {
    global: { plugins: [pinia, i18n, router], stubs: { transition: false, 'transition-group': false } },
    attachTo: document.body,
  })
  await flushPromises()
  return { wrapper, router }
}

export { flushPromises }

/** Wait until form errors show: Element Plus debounces a form item's error state by 100 ms. */
export async function settleForm() {
  await flushPromises()
  await new Promise((r) => setTimeout(r, 120))
  await flushPromises()
}

/** The error shown under the form item that holds `selector`. */
export function fieldError(selector: string): string {
  const item = document.querySelector(selector)?.closest('.el-form-item')
  return item?.querySelector('.el-form-item__error')?.textContent?.trim() ?? ''
}
