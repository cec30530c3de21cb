import { computed, reactive, watch } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import type { PageParams, PageResult, SortOrder } from '@/api/types'
import { readListQuery, sameQuery, writeListQuery, type ListDefaults, type QueryValues } from '@/utils/query'
import { useTable, type SortChange } from './useTable'

export interface UseQueryTableOptions<F extends QueryValues> {
  /** the filters and their defaults (a default's type is the filter's type) */
  filters: F
  pageSize?: number
  pageSizes?: number[]
  sortBy?: string
  order?: SortOrder
  /** sortBy keys the API accepts */
  sortKeys?: readonly string[]
  /** the values an enum filter may take (others in the URL give the default) */
  enums?: ListDefaults<F>['enums']
}

/**
 * `useTable` whose filters, page and sort live in the URL query: a reload or
 * a shared link shows the same list, back/forward step through searches, and
 * the sidebar entry (no query) shows the list as it starts. `filters` is what
 * the form edits; it applies on `search()`.
 */
export function useQueryTable<T, F extends QueryValues>(
  fetch: (page: PageParams, filters: F) => Promise<PageResult<T>>,
  options: UseQueryTableOptions<F>,
) {
  const route = useRoute()
  const router = useRouter()
  const path = route.path
  const defaults: ListDefaults<F> = {
    filters: { ...options.filters },
    pageSize: options.pageSize ?? 20,
    pageSizes: options.pageSizes ?? [10, 20, 50, 100],
    sortBy: options.sortBy,
    order: options.order,
    sortKeys: options.sortKeys,
    enums: options.enums,
  }

  const initial = readListQuery(route.query, defaults)
  const filters = reactive({ ...initial.filters }) as F
  const table = useTable<T>((page) => fetch(page, { ...filters }), {
    pageSize: defaults.pageSize,
    sortBy: defaults.sortBy,
    order: defaults.order,
    immediate: false,
  })
  const { pager, sort } = table

  function applyState(query: typeof route.query) {
    const state = readListQuery(query, defaults)
    Object.assign(filters, state.filters)
    pager.page = state.page
    pager.pageSize = state.pageSize
    sort.sortBy = state.sortBy
    sort.order = state.order
  }
  applyState(route.query)

  /** Put the state into the URL; the URL's change loads the list (or load now when the URL stays). */
  async function commit() {
    const query = writeListQuery(
      { filters: { ...filters }, page: pager.page, pageSize: pager.pageSize, sortBy: sort.sortBy, order: sort.order },
      defaults,
    )
    if (sameQuery(query, route.query)) return table.load()
    await router.replace({ path, query, hash: route.hash })
  }

  // Back/forward, a sidebar click or commit() changed the query of this page.
  watch(
    () => route.query,
    (query) => {
      if (route.path !== path) return
      applyState(query)
      void table.load()
    },
  )

  function search() {
    pager.page = 1
    return commit()
  }

  function reset() {
    Object.assign(filters, defaults.filters)
    return search()
  }

  function onSortChange({ prop, order }: SortChange) {
    sort.sortBy = order ? (prop ?? undefined) : defaults.sortBy
    sort.order = order === 'ascending' ? 'asc' : order === 'descending' ? 'desc' : defaults.order
    return search()
  }

  function onPageChange(page: number) {
    pager.page = page
    return commit()
  }

  function onSizeChange(size: number) {
    pager.pageSize = size
    return search()
  }

  /** For el-table's `default-sort`: the column the URL sorts by. */
  const defaultSort = computed(() =>
    sort.sortBy ? { prop: sort.sortBy, order: sort.order === 'desc' ? ('descending' as const) : ('ascending' as const) } : undefined,
  )

  void table.load()

  return {
    filters,
    list: table.list,
    total: table.total,
    loading: table.loading,
    pager,
    sort,
    pageSizes: defaults.pageSizes ?? [],
    defaultSort,
    load: table.load,
    search,
    reset,
    onSortChange,
    onPageChange,
    onSizeChange,
  }
}
