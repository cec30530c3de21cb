import { afterEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { mount, flushPromises } from '@vue/test-utils'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import type { PageParams, PageResult } from '@/api/types'
import { useQueryTable } from './useQueryTable'

interface Filters {
  [key: string]: string | boolean
  status: string
  keyword: string
  open: boolean
}

type Fetch = (page: PageParams, f: Filters) => Promise<PageResult<{ id: number }>>

async function setup(path: string) {
  const fetch = vi.fn<Fetch>(async (page) => ({ list: [{ id: page.page ?? 1 }], total: 100, page: page.page ?? 1, pageSize: 20 }))
  let table!: ReturnType<typeof useQueryTable<{ id: number }, Filters>>
  const Page = defineComponent({
    setup() {
      table = useQueryTable(fetch, {
        filters: { status: '', keyword: '', open: false },
        sortBy: 'createdAt',
        order: 'desc',
        sortKeys: ['createdAt', 'name'],
      })
      return () => h('div')
    },
  })
  const router: Router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/list', component: Page },
      { path: '/other', component: { render: () => h('p') } },
    ],
  })
  await router.push(path)
  const App = defineComponent({ render: () => h(router.options.routes[0]!.component as never) })
  const wrapper = mount(App, { global: { plugins: [router] } })
  await flushPromises()
  return { fetch, table: () => table, router, wrapper }
}

const lastCall = (fetch: ReturnType<typeof vi.fn<Fetch>>) => fetch.mock.calls.at(-1)!

describe('useQueryTable', () => {
  afterEach(() => vi.restoreAllMocks())

  it('starts from the URL: filters, page and sort are sent at once', async () => {
    const { fetch, table } = await setup('/list?status=online&keyword=gpu&open=true&page=3&sortBy=name&order=asc')
    expect(fetch).toHaveBeenCalledTimes(1)
    const [page, filters] = lastCall(fetch)
    expect(page).toEqual({ page: 3, pageSize: 20, sortBy: 'name', order: 'asc' })
    expect(filters).toEqual({ status: 'online', keyword: 'gpu', open: true })
    expect(table().defaultSort.value).toEqual({ prop: 'name', order: 'ascending' })
  })

  it('puts a search into the URL and back to page 1', async () => {
    const { fetch, table, router } = await setup('/list?page=4')
    const t = table()
    t.filters.keyword = ' node '
    t.filters.status = 'offline'
    await t.search()
    await flushPromises()
    expect(router.currentRoute.value.query).toEqual({ keyword: 'node', status: 'offline' })
    expect(lastCall(fetch)[0].page).toBe(1)
    expect(lastCall(fetch)[1]).toMatchObject({ keyword: 'node', status: 'offline' })
    expect(fetch).toHaveBeenCalledTimes(2)
  })

  it('keeps page, size and sort in the URL', async () => {
    const { table, router } = await setup('/list')
    const t = table()
    await t.onPageChange(2)
    await flushPromises()
    expect(router.currentRoute.value.query).toEqual({ page: '2' })
    await t.onSortChange({ prop: 'name', order: 'descending' })
    await flushPromises()
    expect(router.currentRoute.value.query).toEqual({ sortBy: 'name', order: 'desc' })
    await t.onSizeChange(50)
    await flushPromises()
    expect(router.currentRoute.value.query).toEqual({ sortBy: 'name', order: 'desc', pageSize: '50' })
    // clearing the sort goes back to the default, which the URL leaves out
    await t.onSortChange({ prop: 'name', order: null })
    await flushPromises()
    expect(router.currentRoute.value.query).toEqual({ pageSize: '50' })
  })

  it('reloads when the same search is run again (the URL does not change)', async () => {
    const { fetch, table } = await setup('/list?status=online')
    await table().search()
    await flushPromises()
    expect(fetch).toHaveBeenCalledTimes(2)
  })

  it('follows the URL when it changes outside (back, a sidebar link without query)', async () => {
    const { fetch, table, router } = await setup('/list?status=online')
    await router.push('/list?status=offline&page=2')
    await flushPromises()
    expect(table().filters.status).toBe('offline')
    expect(lastCall(fetch)[0].page).toBe(2)
    await router.push('/list')
    await flushPromises()
    expect(table().filters.status).toBe('')
    expect(lastCall(fetch)[1].status).toBe('')
    router.back()
    await flushPromises()
    expect(table().filters.status).toBe('offline')
  })

  it('reset clears the filters and the URL', async () => {
    const { table, router } = await setup('/list?status=online&keyword=a&page=2')
    await table().reset()
    await flushPromises()
    expect(router.currentRoute.value.query).toEqual({})
    expect(table().filters).toEqual({ status: '', keyword: '', open: false })
  })

  it('does not load for another page', async () => {
    const { fetch, router } = await setup('/list')
    await router.push('/other?status=online')
    await flushPromises()
    expect(fetch).toHaveBeenCalledTimes(1)
  })
})
