import { computed, ref, shallowRef, watch } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { getMyMachine } from '@/api/myMachines'
import type { CustomerMachine } from '@/api/types'
import { useMachineSummary } from '../useMachineSummary'

/** 快速连接: pick one of my machines (`?machine=` in the URL) and get its command and password. */
export function useQuickConnect() {
  const route = useRoute()
  const router = useRouter()
  const summary = useMachineSummary()

  const machineId = ref(typeof route.query.machine === 'string' ? route.query.machine : '')
  const machine = shallowRef<CustomerMachine | null>(null)
  const loading = ref(false)

  async function loadMachine(id: string) {
    machine.value = null
    if (!id) return
    loading.value = true
    try {
      machine.value = await getMyMachine(id)
    } catch {
      machine.value = null
    } finally {
      loading.value = false
    }
  }

  watch(machineId, (id) => {
    void router.replace({ query: id ? { machine: id } : {} })
    void loadMachine(id)
  })

  async function init() {
    await summary.load()
    // one machine: nothing to pick
    if (!machineId.value && summary.machines.value.length === 1) machineId.value = summary.machines.value[0]!.id
    else void loadMachine(machineId.value)
  }

  const options = computed(() => summary.machines.value)

  return { machineId, machine, loading, options, summaryLoading: summary.loading, summaryLoaded: summary.loaded, init }
}
