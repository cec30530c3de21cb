import { computed, ref, shallowRef } from 'vue'
import { useRoute } from 'vue-router'
import { getMyMachine } from '@/api/myMachines'
import type { CustomerMachine } from '@/api/types'
import { useMachineLive } from '../../monitoring/useMachineLive'

export function useMyMachineDetail() {
  const route = useRoute()
  const id = computed(() => String(route.params.id))
  const machine = shallowRef<CustomerMachine | null>(null)
  const loading = ref(false)
  /** 404: not (or no longer) leased to the caller */
  const notFound = ref(false)
  const loadFailed = ref(false)

  async function load() {
    loading.value = true
    try {
      machine.value = await getMyMachine(id.value)
      notFound.value = false
      loadFailed.value = false
    } catch (e) {
      notFound.value = (e as { status?: number }).status === 404
      loadFailed.value = !notFound.value && !machine.value
    } finally {
      loading.value = false
    }
  }

  // live charts and processes; the id stays while the page shows (the layout keys pages by path)
  const monitoring = useMachineLive(computed(() => (notFound.value ? null : id.value)))

  return { id, machine, loading, notFound, loadFailed, load, monitoring }
}
