import { computed, ref, watch } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { useMachineSummary } from '../../machines/useMachineSummary'
import { useMachineLive } from '../useMachineLive'

/**
 * 实时监控 of the customer (3.1.7.1): one of my machines, chosen in a
 * selector and kept in the URL (`?machine=`), live.
 */
export function useCustomerRealtime() {
  const route = useRoute()
  const router = useRouter()
  const { machines, loading: machinesLoading, loaded: machinesLoaded, load: loadMachines } = useMachineSummary()

  const fromUrl = () => (typeof route.query.machine === 'string' ? route.query.machine : '')
  const selected = ref(fromUrl())
  /** the machine watched: the URL's when it is mine, else the first */
  const machineId = computed(() => {
    if (!machinesLoaded.value) return null
    const list = machines.value
    if (selected.value && list.some((m) => m.id === selected.value)) return selected.value
    return list[0]?.id ?? null
  })
  const machine = computed(() => machines.value.find((m) => m.id === machineId.value) ?? null)

  function pick(id: string) {
    selected.value = id
    void router.replace({ path: route.path, query: { ...route.query, machine: id } })
  }
  watch(
    () => route.query.machine,
    () => {
      selected.value = fromUrl()
    },
  )

  const live = useMachineLive(machineId)

  void loadMachines()

  return { machines, machinesLoading, machinesLoaded, machineId, machine, pick, ...live }
}
