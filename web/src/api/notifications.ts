import { cleanParams, http } from './http'
import type { NotificationPage, PageParams } from './types'

const base = '/api/customer/notifications'

export const listNotifications = (params: PageParams & { unread?: boolean }, config: { silent?: boolean } = {}) =>
  http.get<NotificationPage>(base, { params: cleanParams(params), ...config })

export const markNotificationRead = (id: string) => http.post<Record<string, never>>(`${base}/${id}/read`)

export const markAllNotificationsRead = () => http.post<Record<string, never>>(`${base}/read-all`)
