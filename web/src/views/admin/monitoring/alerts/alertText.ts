import type { Alert, AlertLevel, AlertStatusFilter, AlertType } from '@/api/types'
import type { Locale } from '@/locales'

export const ALERT_LEVELS: AlertLevel[] = ['critical', 'warning', 'info']
export const ALERT_TYPES: AlertType[] = ['gpu_temperature', 'disk_usage', 'memory_usage', 'offline']
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
  if (at < 0) return message
  return locale === 'en' ? message.slice(at + 3) : message.slice(0, at)
}
