import { computed, ref, shallowRef } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import type { Machine } from '@/api/types'
import { getMachine } from '@/api/machines'
import { useMachineActions } from '../useMachineActions'

export function useMachineDetail() {
  const route = useRoute()
  const router = useRouter()
  const id = computed(() => String(route.params.id))

  const machine = shallowRef<Machine | null>(null)
  const loading = ref(false)
  const loadFailed = ref(false)
  /** bumped after a change, so the history tabs reload */
  const version = ref(0)

  async function load() {
    loading.value = true
    try {
      machine.value = await getMachine(id.value)
      loadFailed.value = false
    } catch {
      loadFailed.value = !machine.value
    } finally {
      loading.value = false
    }
  }

  async function changed(what: 'deleted' | 'updated') {
    if (what === 'deleted') return router.push('/admin/machines/list')
    version.value++
    await load()
  }

  const actions = useMachineActions(changed)

  return { id, machine, loading, loadFailed, version, load, changed, actions }
}
