import { ref, shallowRef } from 'vue'
import { getCustomerDashboardStats } from '@/api/dashboard'
import { recentTasks, type Task } from '@/api/tasks'
import type { CustomerDashboardStats } from '@/api/types'
import { useConnect } from '../machines/useConnect'
import { useMachineSummary } from '../machines/useMachineSummary'

export function useCustomerDashboard() {
  const stats = shallowRef<CustomerDashboardStats | null>(null)
  const statsLoading = ref(false)
  const summary = useMachineSummary()
  const { commandCopied } = useConnect()
  const tasks = shallowRef<Task[]>([])
  const tasksLoading = ref(false)
  const tasksLoaded = ref(false)

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

  async function loadTasks() {
    tasksLoading.value = true
    try {
      tasks.value = (await recentTasks()) ?? []
      tasksLoaded.value = true
    } catch {
      // reported by the HTTP layer
    } finally {
      tasksLoading.value = false
    }
  }

  function load() {
    void loadStats()
    void summary.load()
    void loadTasks()
  }

  return {
    stats,
    statsLoading,
    machines: summary.machines,
    machinesLoading: summary.loading,
    machinesLoaded: summary.loaded,
    tasks,
    tasksLoading,
    tasksLoaded,
    load,
    commandCopied,
  }
}
