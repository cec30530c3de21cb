import { listAlerts } from '@/api/alerts'
import type { Alert, AlertLevel, AlertStatusFilter, AlertType } from '@/api/types'
import { useQueryTable } from '@/composables/useQueryTable'
import { ALERT_LEVELS, ALERT_SORTS, ALERT_STATUSES, ALERT_TYPES } from './alertText'
import { useAlertActions } from './useAlertActions'

export interface AlertFilters {
  [key: string]: string
  level: '' | AlertLevel
  type: '' | AlertType
  status: '' | AlertStatusFilter
  /** machine name or alert text */
  keyword: string
  /** one machine (from the real-time table's alert badge) */
  machineId: string
  /** opened at or after / before (RFC 3339) */
  from: string
  to: string
}

export const emptyAlertFilters = (): AlertFilters => ({
  level: '',
  type: '',
  status: '',
  keyword: '',
  machineId: '',
  from: '',
  to: '',
})

/** The list of 告警管理 (2.1.5.2): filters, page and sort in the URL. */
export function useAlertList() {
  const table = useQueryTable<Alert, AlertFilters>(
    (page, f) =>
      listAlerts({
        ...page,
        level: f.level || undefined,
        type: f.type || undefined,
        status: f.status || undefined,
        keyword: f.keyword.trim() || undefined,
        machineId: f.machineId || undefined,
        from: f.from || undefined,
        to: f.to || undefined,
      }),
    {
      filters: emptyAlertFilters(),
      sortBy: 'createdAt',
      order: 'desc',
      sortKeys: ALERT_SORTS,
      enums: { level: ['', ...ALERT_LEVELS], type: ['', ...ALERT_TYPES], status: ['', ...ALERT_STATUSES] },
    },
  )

  const actions = useAlertActions(() => table.load())

  return { ...table, actions }
}
