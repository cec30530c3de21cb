import { computed } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { listAllocations } from '@/api/allocations'
import type { Allocation, AllocationTab } from '@/api/types'
import { useQueryTable } from '@/composables/useQueryTable'
import { useAllocationActions } from '../useAllocationActions'

export const ALLOCATION_TABS: AllocationTab[] = ['current', 'history', 'expiring']
export const ALLOCATION_SORTS = ['createdAt', 'startAt', 'endAt', 'customer', 'machineName', 'status', 'months'] as const
/** The 即将到期 sidebar entry: the records page on that tab. */
export const EXPIRING_PATH = '/admin/allocations/expiring'
export const RECORDS_PATH = '/admin/allocations'

export interface AllocationFilters {
  [key: string]: string
  tab: AllocationTab
  keyword: string
  tenantId: string
}

export function useAllocationList() {
  const route = useRoute()
  const router = useRouter()
  // On /admin/allocations/expiring the tab is fixed; on /admin/allocations it is ?tab=.
  const fixedTab: AllocationTab | null = route.path === EXPIRING_PATH ? 'expiring' : null

  const table = useQueryTable<Allocation, AllocationFilters>(
    (page, f) =>
      listAllocations({
        ...page,
        tab: fixedTab ?? f.tab,
        keyword: f.keyword.trim() || undefined,
        tenantId: f.tenantId || undefined,
      }),
    {
      filters: { tab: 'current', keyword: '', tenantId: '' },
      enums: { tab: ALLOCATION_TABS },
      sortKeys: ALLOCATION_SORTS,
    },
  )
  const { filters } = table

  const activeTab = computed<AllocationTab>(() => fixedTab ?? filters.tab)

  /** Switch tab, keeping the search: the expiring tab has its own path (and sidebar entry). */
  async function switchTab(tab: AllocationTab) {
    if (tab === activeTab.value) return
    const keep: Record<string, string> = {}
    if (filters.keyword.trim()) keep.keyword = filters.keyword.trim()
    if (filters.tenantId) keep.tenantId = filters.tenantId
    if (tab === 'expiring') return router.push({ path: EXPIRING_PATH, query: keep })
    if (fixedTab) return router.push({ path: RECORDS_PATH, query: tab === 'current' ? keep : { ...keep, tab } })
    filters.tab = tab
    return table.search()
  }

  const actions = useAllocationActions(() => table.load())

  return { ...table, activeTab, switchTab, actions }
}
