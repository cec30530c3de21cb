import { shallowRef } from 'vue'
import { getMachineOptions } from '@/api/machines'
import type { MachineOptions } from '@/api/types'

/** The regions and GPU models the filters and the form offer (loaded once per page). */
export function useMachineOptions() {
  const options = shallowRef<MachineOptions>({ regions: [], gpuModels: [], statuses: [], allocationStatuses: [] })
  const loaded = getMachineOptions()
    .then((o) => {
      options.value = o
    })
    .catch(() => undefined)

  /** The display name of a region code (machines may store either). */
  const regionName = (region: string) => options.value.regions?.find((r) => r.code === region)?.name ?? region

  return { options, loaded, regionName }
}
