import { ref, shallowRef } from 'vue'
import { getMyMachinesSummary } from '@/api/myMachines'
import type { MachineSummary } from '@/api/types'

/** All my machines in short (pickers and the dashboard's overview cards). */
export function useMachineSummary() {
  const machines = shallowRef<MachineSummary[]>([])
  const loading = ref(false)
  const loaded = ref(false)

  async function load() {
    loading.value = true
    try {
      machines.value = (await getMyMachinesSummary()) ?? []
      loaded.value = true
    } catch {
      // reported by the HTTP layer
    } finally {
      loading.value = false
    }
  }

  return { machines, loading, loaded, load }
}
