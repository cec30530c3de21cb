import type { Alert, AlertLevel, AlertStatusFilter, AlertType } from '@/api/types'
import { codeText, type Locale } from '@/locales'
import { pickLanguage } from '@/utils/bilingual'

export const ALERT_LEVELS: AlertLevel[] = ['critical', 'warning', 'info']
export const ALERT_TYPES: AlertType[] = ['gpu_temperature', 'disk_usage', 'memory_usage', 'offline', 'lease_cleanup']
/** The types a rule gives a threshold; offline and lease_cleanup only have a duration. */
export type ThresholdType = Exclude<AlertType, 'offline' | 'lease_cleanup'>
export const hasThreshold = (type: AlertType): type is ThresholdType => type !== 'offline' && type !== 'lease_cleanup'
/** open = active + acknowledged (未处理) */
export const ALERT_STATUSES: AlertStatusFilter[] = ['open', 'active', 'acknowledged', 'resolved']
export const ALERT_SORTS = ['createdAt', 'startedAt', 'resolvedAt', 'level', 'type', 'status', 'machineName', 'region'] as const

/** The alert can still be acknowledged (seen) / resolved or ignored. */
export const canAcknowledge = (a: Alert) => a.status === 'active'
export const isOpen = (a: Alert) => a.status !== 'resolved'

/**
 * An alert's text in the console's language: its code with its figures
 * (codes/alerting.ts). An alert the API stored before codes, or opened by a
 * caller that gives none, has only its message (English, or the old
 * "中文 / English" text, of which the console's half is shown).
 */
export const alertMessage = (a: Pick<Alert, 'code' | 'params' | 'message'>, locale: Locale | string): string =>
  a.code ? codeText(a.code, a.params as Record<string, unknown> | null, a.message) : pickLanguage(a.message, locale)
