import { ref, shallowRef } from 'vue'
import { recentAllocations } from '@/api/allocations'
import { getAdminDashboardStats } from '@/api/dashboard'
import type { Allocation, FleetStats } from '@/api/types'

export function useAdminDashboard() {
  const stats = shallowRef<FleetStats | null>(null)
  const recent = shallowRef<Allocation[]>([])
  const statsLoading = ref(false)
  const recentLoading = ref(false)

  async function loadStats() {
    statsLoading.value = true
    try {
      stats.value = await getAdminDashboardStats()
    } catch {
      // reported by the HTTP layer
    } finally {
      statsLoading.value = false
    }
  }

  async function loadRecent() {
    recentLoading.value = true
    try {
      recent.value = (await recentAllocations()) ?? []
    } catch {
      // reported by the HTTP layer
    } finally {
      recentLoading.value = false
    }
  }

  function load() {
    void loadStats()
    void loadRecent()
  }

  return { stats, recent, statsLoading, recentLoading, load }
}
