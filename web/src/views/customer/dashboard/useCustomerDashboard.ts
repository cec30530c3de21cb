import { ref, shallowRef } from 'vue'
import { getCustomerDashboardStats } from '@/api/dashboard'
import type { CustomerDashboardStats } from '@/api/types'
import { useConnect } from '../machines/useConnect'
import { useMachineSummary } from '../machines/useMachineSummary'

export function useCustomerDashboard() {
  const stats = shallowRef<CustomerDashboardStats | null>(null)
  const statsLoading = ref(false)
  const summary = useMachineSummary()
  const { commandCopied } = useConnect()

  async function loadStats() {
    statsLoading.value = true
    try {
      stats.value = await getCustomerDashboardStats()
    } catch {
      // reported by the HTTP layer
    } finally {
      statsLoading.value = false
    }
  }

  function load() {
    void loadStats()
    void summary.load()
  }

  return { stats, statsLoading, machines: summary.machines, machinesLoading: summary.loading, machinesLoaded: summary.loaded, load, commandCopied }
}
