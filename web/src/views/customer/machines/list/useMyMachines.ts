import { listMyMachines } from '@/api/myMachines'
import type { CustomerMachine, MachineStatus } from '@/api/types'
import { useQueryTable } from '@/composables/useQueryTable'

export const MY_MACHINE_SORTS = ['name', 'endAt', 'gpuModel'] as const
export const MY_MACHINE_STATUSES: MachineStatus[] = ['online', 'offline', 'maintenance']

export interface MyMachineFilters {
  [key: string]: string
  status: '' | MachineStatus
  keyword: string
}

export function useMyMachines() {
  return useQueryTable<CustomerMachine, MyMachineFilters>(
    (page, f) => listMyMachines({ ...page, status: f.status || undefined, keyword: f.keyword.trim() || undefined }),
    {
      filters: { status: '', keyword: '' },
      pageSize: 12,
      pageSizes: [12, 24, 48],
      sortBy: 'name',
      order: 'asc',
      sortKeys: MY_MACHINE_SORTS,
      enums: { status: ['', ...MY_MACHINE_STATUSES] },
    },
  )
}
