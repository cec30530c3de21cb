import { computed, ref, shallowRef } from 'vue'
import {
  getCleanupSuggestions,
  getStorageDistribution,
  getStorageOverview,
  listCustomerQuotas,
  type CleanupSuggestions,
  type CustomerQuota,
  type StorageDistribution,
  type StorageOverview,
} from '@/api/datasets'
import { useQueryTable } from '@/composables/useQueryTable'

/** GiB ↔ bytes for the quota dialog. */
export const GIB = 1024 ** 3
export const toGib = (bytes: number) => Math.round((bytes / GIB) * 100) / 100
export const fromGib = (gib: number) => Math.round(gib * GIB)

export function useStorageOverview() {
  const overview = shallowRef<StorageOverview | null>(null)
  const distribution = shallowRef<StorageDistribution | null>(null)
  const cleanup = shallowRef<CleanupSuggestions | null>(null)
  const loading = ref(true)

  async function loadTop() {
    loading.value = true
    const [o, d, c] = await Promise.allSettled([getStorageOverview(), getStorageDistribution(), getCleanupSuggestions()])
    if (o.status === 'fulfilled') overview.value = o.value
    if (d.status === 'fulfilled') distribution.value = d.value
    if (c.status === 'fulfilled') cleanup.value = c.value
    loading.value = false
  }
  void loadTop()

  const quotas = useQueryTable<CustomerQuota, { [k: string]: string; q: string }>(
    (page, f) => listCustomerQuotas({ ...page, q: f.q.trim() || undefined }),
    { filters: { q: '' }, pageSize: 10, pageSizes: [10, 20, 50] },
  )

  const usage = computed(() => {
    const o = overview.value
    return o && o.capacityBytes ? Math.round((o.usedBytes / o.capacityBytes) * 1000) / 10 : 0
  })

  return { overview, distribution, cleanup, loading, loadTop, quotas, usage }
}
