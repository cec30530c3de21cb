import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import { endMaintenance, listMaintenanceRecords } from '@/api/machines'
import type { MaintenanceRecord } from '@/api/types'
import { useQueryTable } from '@/composables/useQueryTable'
import { confirmAction } from '@/utils/confirm'

export const MAINTENANCE_SORTS = ['startedAt', 'endedAt', 'machineName'] as const

export interface MaintenanceFilters {
  [key: string]: string | boolean
  /** only machines still in maintenance */
  open: boolean
  keyword: string
}

export function useMaintenanceRecords() {
  const { t } = useI18n()
  const table = useQueryTable<MaintenanceRecord, MaintenanceFilters>(
    (page, f) => listMaintenanceRecords({ ...page, open: f.open || undefined, keyword: f.keyword.trim() || undefined }),
    { filters: { open: false, keyword: '' }, sortBy: 'startedAt', order: 'desc', sortKeys: MAINTENANCE_SORTS },
  )

  /** 结束维护 of an admin's maintenance (a lease cleanup's is not offered: the API refuses it). */
  async function finish(r: MaintenanceRecord) {
    if (r.kind === 'lease_cleanup' || r.endedAt) return
    if (!(await confirmAction(t('machine.confirmEndMaintenance', { name: r.machineName })))) return
    try {
      await endMaintenance(r.machineId)
      ElMessage.success(t('machine.maintenanceEnded'))
      await table.load()
    } catch {
      // reported by the HTTP layer
    }
  }

  return { ...table, finish }
}
