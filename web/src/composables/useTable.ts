import { reactive, ref, shallowRef } from 'vue'
import type { PageParams, PageResult, SortOrder } from '@/api/types'

export interface SortChange {
  prop: string | null
  order: 'ascending' | 'descending' | null
}

export interface UseTableOptions {
  pageSize?: number
  sortBy?: string
  order?: SortOrder
  /** load at once (default true) */
  immediate?: boolean
}

/**
 * Server-side pagination and sorting for an el-table + el-pagination pair.
 * `fetch` gets page/pageSize/sortBy/order; the caller adds its filters.
 * A slower, older answer never overwrites a newer one.
 */
export function useTable<T>(fetch: (params: PageParams) => Promise<PageResult<T>>, options: UseTableOptions = {}) {
  const list = shallowRef<T[]>([])
  const total = ref(0)
  const loading = ref(false)
  const pager = reactive({ page: 1, pageSize: options.pageSize ?? 20 })
  const sort = reactive<{ sortBy?: string; order?: SortOrder }>({ sortBy: options.sortBy, order: options.order })
  let seq = 0

  async function load() {
    const mine = ++seq
    loading.value = true
    try {
      const result = await fetch({ page: pager.page, pageSize: pager.pageSize, sortBy: sort.sortBy, order: sort.order })
      if (mine !== seq) return
      list.value = result.list ?? []
      total.value = result.total ?? 0
    } catch {
      // the HTTP layer has told the user; keep what is on screen
    } finally {
      if (mine === seq) loading.value = false
    }
  }

  /** New filters: back to page 1. */
  function search() {
    pager.page = 1
    return load()
  }

  function onSortChange({ prop, order }: SortChange) {
    sort.sortBy = order ? (prop ?? undefined) : options.sortBy
    sort.order = order === 'ascending' ? 'asc' : order === 'descending' ? 'desc' : options.order
    return search()
  }

  function onPageChange(page: number) {
    pager.page = page
    return load()
  }

  function onSizeChange(size: number) {
    pager.pageSize = size
    return search()
  }

  if (options.immediate !== false) void load()

  return { list, total, loading, pager, sort, load, search, onSortChange, onPageChange, onSizeChange }
}
