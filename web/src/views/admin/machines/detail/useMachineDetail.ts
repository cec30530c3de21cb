import { computed, ref, shallowRef } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import type { InventoryDifference, Machine, MachineInventory } from '@/api/types'
import { getMachine, getMachineInventory } from '@/api/machines'
import { useMachineActions } from '../useMachineActions'
import { usePasswordResetPoll } from '../usePasswordResetPoll'

/** The machine fields the agent's report is compared with, and their labels. */
export const DIFF_FIELDS = {
  gpuModel: 'machine.gpuModel',
  gpuCount: 'machine.gpuCount',
  gpuMemoryGb: 'machine.gpuMemory',
  cudaVersion: 'machine.cudaVersion',
  driverVersion: 'machine.driverVersion',
  cpuCores: 'machine.cpuCores',
  memoryGb: 'machine.memory',
} as const

export function useMachineDetail() {
  const route = useRoute()
  const router = useRouter()
  const id = computed(() => String(route.params.id))

  const machine = shallowRef<Machine | null>(null)
  const loading = ref(false)
  const loadFailed = ref(false)
  /** bumped after a change, so the history tabs reload */
  const version = ref(0)

  const inventory = shallowRef<MachineInventory | null>(null)
  const inventoryLoading = ref(false)
  /** where the agent's report differs from the record, by field */
  const differences = computed(() => {
    const out: Partial<Record<string, InventoryDifference>> = {}
    for (const d of inventory.value?.differences ?? []) out[d.field] = d
    return out
  })

  async function loadInventory() {
    inventoryLoading.value = true
    try {
      inventory.value = await getMachineInventory(id.value)
    } catch {
      // reported by the HTTP layer; the rest of the page stands
    } finally {
      inventoryLoading.value = false
    }
  }

  async function load() {
    loading.value = true
    void loadInventory()
    void passwordReset.load()
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

  /** The latest password reset, shown by the SSH info; followed while pending (the reset dialog follows it while open). */
  const passwordReset = usePasswordResetPoll({ machineId: () => id.value, active: () => !actions.dialogs.reset.visible })

  return {
    id,
    machine,
    loading,
    loadFailed,
    version,
    load,
    changed,
    actions,
    inventory,
    inventoryLoading,
    differences,
    passwordReset: passwordReset.result,
  }
}
