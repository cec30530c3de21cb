// Alerts (requirements 2.1.5.2) and the dashboard's alert centre (2.1.1).
import { cleanParams, http } from './http'
import type { ActiveAlerts, Alert, AlertListParams, AlertRule, AlertRuleInput, PageResult } from './types'

const base = '/api/admin/alerts'

export const listAlerts = (params: AlertListParams) => http.get<PageResult<Alert>>(base, { params: cleanParams(params) })

/** Open alerts (active and acknowledged), most severe first, then newest, with counts by level. */
export const listActiveAlerts = (limit = 20) => http.get<ActiveAlerts>(`${base}/active`, { params: { limit } })

/** 409 (already acknowledged or resolved by someone else) is toasted with the API's message. */
export const acknowledgeAlert = (id: string, note?: string) => http.put<Alert>(`${base}/${id}/acknowledge`, note ? { note } : {})

/** 标记已处理: resolved by hand. */
export const resolveAlert = (id: string, note?: string) => http.put<Alert>(`${base}/${id}/resolve`, note ? { note } : {})

/** 忽略: the same condition opens no new alert until it has cleared. */
export const ignoreAlert = (id: string, note?: string) => http.put<Alert>(`${base}/${id}/ignore`, note ? { note } : {})

export const getAlertRules = () => http.get<AlertRule[] | null>(`${base}/rules`)

/** 400 is shown at the rule's fields. */
export const updateAlertRules = (rules: AlertRuleInput[]) =>
  http.put<AlertRule[] | null>(`${base}/rules`, { rules }, { silent: [400] })
