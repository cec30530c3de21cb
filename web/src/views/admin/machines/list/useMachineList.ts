import { ref, watch } from 'vue'
import { listMachines } from '@/api/machines'
import type { AllocationStatus, Machine, MachineListParams, MachineStatus } from '@/api/types'
import { useQueryTable } from '@/composables/useQueryTable'
import { useMachineActions } from '../useMachineActions'
import { useMachineOptions } from '../useMachineOptions'

/** sortBy keys of list-machines */
export const MACHINE_SORTS = [
  'name',
  'createdAt',
  'gpuModel',
  'gpuCount',
  'region',
  'status',
  'allocationStatus',
  'endAt',
  'memoryGb',
] as const

export const MACHINE_STATUSES: MachineStatus[] = ['online', 'offline', 'maintenance']
export const ALLOCATION_STATUSES: AllocationStatus[] = ['unallocated', 'allocated', 'expiring']

export type MachineView = 'table' | 'card'
export const VIEW_KEY = 'remotegpu.machineView'

export interface MachineFilters {
  [key: string]: string
  gpuModel: string
  region: string
  status: '' | MachineStatus
  allocationStatus: '' | AllocationStatus
  keyword: string
  /** only the machines of one customer (from the customer detail page) */
  tenantId: string
}

export const emptyMachineFilters = (): MachineFilters => ({
  gpuModel: '',
  region: '',
  status: '',
  allocationStatus: '',
  keyword: '',
  tenantId: '',
})

/** The API's query for the filters: empty ones left out, the search trimmed. */
export function machineQuery(f: MachineFilters): Partial<MachineListParams> {
  return {
    gpuModel: f.gpuModel || undefined,
    region: f.region || undefined,
    status: f.status || undefined,
    allocationStatus: f.allocationStatus || undefined,
    keyword: f.keyword.trim() || undefined,
    tenantId: f.tenantId || undefined,
  }
}

export function useMachineList() {
  const table = useQueryTable<Machine, MachineFilters>((page, f) => listMachines({ ...page, ...machineQuery(f) }), {
    filters: emptyMachineFilters(),
    sortBy: 'createdAt',
    order: 'desc',
    sortKeys: MACHINE_SORTS,
    enums: { status: ['', ...MACHINE_STATUSES], allocationStatus: ['', ...ALLOCATION_STATUSES] },
  })

  const { options, regionName } = useMachineOptions()

  // table or cards, remembered on this browser
  const view = ref<MachineView>(localStorage.getItem(VIEW_KEY) === 'card' ? 'card' : 'table')
  watch(view, (v) => localStorage.setItem(VIEW_KEY, v))

  const actions = useMachineActions(() => table.load())

  return { ...table, options, regionName, view, actions }
}
