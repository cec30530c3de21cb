import type { Alert, AlertLevel, AlertStatusFilter, AlertType } from '@/api/types'
import type { Locale } from '@/locales'

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
 * The API writes an alert's text in both languages, `中文 / English`: show
 * the one of the console's language (the whole text when it is not split).
 */
export function alertMessage(message: string, locale: Locale | string): string {
  const at = message.lastIndexOf(' / ')
  if (at >= 0) return locale === 'en' ? message.slice(at + 3) : message.slice(0, at)
  // `…）/ English`: a full-width character right before the slash (the lease cleanup's text)
  const m = /[\u3000-\u303f\uff00-\uffef]\/ (?!.*[\u3000-\u303f\uff00-\uffef]\/ )/.exec(message)
  if (!m) return message
  return locale === 'en' ? message.slice(m.index + 3) : message.slice(0, m.index + 1)
}
