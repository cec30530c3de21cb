import { afterEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { mount, flushPromises } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { i18n } from '@/locales'
import { stubRoutes } from '@/test/stubRoutes'
import { useAllocationList } from './useAllocationList'

vi.mock('@/api/allocations', () => ({
  listAllocations: vi.fn(async () => ({ list: [], total: 0, page: 1, pageSize: 20 })),
  reclaimAllocation: vi.fn(),
}))
const api = await import('@/api/allocations')

async function setup(path: string) {
  let list!: ReturnType<typeof useAllocationList>
  const Page = defineComponent({
    setup() {
      list = useAllocationList()
      return () => h('div')
    },
  })
  const router = createRouter({ history: createMemoryHistory(), routes: stubRoutes() })
  await router.push(path)
  mount(Page, { global: { plugins: [createPinia(), i18n, router] } })
  await flushPromises()
  return { list: () => list, router }
}

describe('allocation records', () => {
  afterEach(() => vi.clearAllMocks())

  it('reads the tab, the customer and the search from the URL', async () => {
    const { list } = await setup('/admin/allocations?tab=history&keyword=gpu&tenantId=t1')
    expect(list().activeTab.value).toBe('history')
    expect(api.listAllocations).toHaveBeenLastCalledWith(expect.objectContaining({ tab: 'history', keyword: 'gpu', tenantId: 't1' }))
  })

  it('opens on the current tab, and an unknown tab is the current one', async () => {
    await setup('/admin/allocations?tab=bogus')
    expect(api.listAllocations).toHaveBeenLastCalledWith(expect.objectContaining({ tab: 'current' }))
  })

  it('is the expiring tab on its own path (its sidebar entry)', async () => {
    const { list } = await setup('/admin/allocations/expiring')
    expect(list().activeTab.value).toBe('expiring')
    expect(api.listAllocations).toHaveBeenLastCalledWith(expect.objectContaining({ tab: 'expiring' }))
  })

  it('switches tabs in the URL, keeping the search', async () => {
    const { list, router } = await setup('/admin/allocations?keyword=gpu')
    await list().switchTab('history')
    await flushPromises()
    expect(router.currentRoute.value.fullPath).toBe('/admin/allocations?tab=history&keyword=gpu')
    expect(api.listAllocations).toHaveBeenLastCalledWith(expect.objectContaining({ tab: 'history', keyword: 'gpu' }))

    await list().switchTab('expiring')
    await flushPromises()
    expect(router.currentRoute.value.fullPath).toBe('/admin/allocations/expiring?keyword=gpu')
  })

  it('leaves the expiring path for the other tabs', async () => {
    const { list, router } = await setup('/admin/allocations/expiring')
    await list().switchTab('current')
    expect(router.currentRoute.value.fullPath).toBe('/admin/allocations')
    const again = await setup('/admin/allocations/expiring?tenantId=t1')
    await again.list().switchTab('history')
    expect(again.router.currentRoute.value.fullPath).toBe('/admin/allocations?tenantId=t1&tab=history')
  })
})
