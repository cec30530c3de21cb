import { listMaintenanceRecords } from '@/api/machines'
import type { MaintenanceRecord } from '@/api/types'
import { useQueryTable } from '@/composables/useQueryTable'

export const MAINTENANCE_SORTS = ['startedAt', 'endedAt', 'machineName'] as const

export interface MaintenanceFilters {
  [key: string]: string | boolean
  /** only machines still in maintenance */
  open: boolean
  keyword: string
}

export function useMaintenanceRecords() {
  return useQueryTable<MaintenanceRecord, MaintenanceFilters>(
    (page, f) => listMaintenanceRecords({ ...page, open: f.open || undefined, keyword: f.keyword.trim() || undefined }),
    { filters: { open: false, keyword: '' }, sortBy: 'startedAt', order: 'desc', sortKeys: MAINTENANCE_SORTS },
  )
}
