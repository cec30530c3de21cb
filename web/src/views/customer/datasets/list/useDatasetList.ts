import { computed, ref, shallowRef } from 'vue'
import { getStorageQuota, listDatasets, type Dataset, type DatasetTab, type StorageQuota } from '@/api/datasets'
import { useQueryTable } from '@/composables/useQueryTable'
import { usePolling } from '@/composables/usePolling'
import { useDatasetActions } from '@/components/datasets/useDatasetActions'

export const DATASET_TABS: DatasetTab[] = ['mine', 'public', 'shared']
export const SORTS = ['createdAt-desc', 'createdAt-asc', 'name-asc', 'sizeBytes-desc', 'fileCount-desc'] as const

export interface DatasetFilters {
  [key: string]: string
  tab: string
  q: string
  type: string
  sort: string
}

/** The API's parameters of the filters. */
export function listParams(f: DatasetFilters) {
  const [sortBy, order] = (f.sort || SORTS[0]).split('-') as [string, 'asc' | 'desc']
  return { q: f.q.trim() || undefined, type: f.type || undefined, sortBy, order }
}

/** While a dataset is uploading or processing the list refreshes this often. */
export const POLL_MS = 5000

export function useDatasetList() {
  const loadError = shallowRef<unknown>(null)
  const loaded = ref(false)
  let polling = false

  const table = useQueryTable<Dataset, DatasetFilters>(
    async (page, f) => {
      try {
        const result = await listDatasets(f.tab as DatasetTab, { page: page.page, pageSize: page.pageSize, ...listParams(f) }, polling && loaded.value)
        loadError.value = null
        loaded.value = true
        return result
      } catch (e) {
        if (!polling || !loaded.value) loadError.value = e
        throw e
      }
    },
    {
      filters: { tab: 'mine', q: '', type: '', sort: SORTS[0] },
      enums: { tab: DATASET_TABS, sort: [...SORTS] },
      pageSize: 12,
      pageSizes: [12, 24, 48],
    },
  )

  const quota = shallowRef<StorageQuota | null>(null)
  const loadQuota = () =>
    getStorageQuota()
      .then((q) => (quota.value = q))
      .catch(() => undefined)
  void loadQuota()

  const busy = computed(() => table.list.value.some((d) => d.status === 'uploading' || d.status === 'processing'))
  usePolling(
    async () => {
      polling = true
      try {
        await Promise.all([table.load(), loadQuota()])
      } finally {
        polling = false
      }
    },
    { intervalMs: POLL_MS, active: () => busy.value },
  )

  function switchTab(tab: DatasetTab) {
    if (tab === table.filters.tab) return
    table.filters.tab = tab
    return table.search()
  }

  const actions = useDatasetActions(async () => {
    await Promise.all([table.load(), loadQuota()])
  })
  const filtered = computed(() => !!(table.filters.q || table.filters.type))

  return { ...table, loadError, loaded, quota, loadQuota, switchTab, actions, filtered }
}
