import type { Alert, AlertLevel, AlertStatusFilter, AlertType } from '@/api/types'
import { codeText } from '@/locales'

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
 * (codes/alerting.ts). An alert without a code the console knows (an old text
 * migration 009 could not read) shows its English message.
 */
export const alertMessage = (a: Pick<Alert, 'code' | 'params' | 'message'>): string =>
  codeText(a.code, a.params as Record<string, unknown> | null, a.message)
