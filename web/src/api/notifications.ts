import { cleanParams, http } from './http'
import type { MarkedRead, NotificationListParams, NotificationPage } from './types'

const base = '/api/customer/notifications'

export const listNotifications = (params: NotificationListParams, config: { silent?: boolean } = {}) =>
  http.get<NotificationPage>(base, { params: cleanParams(params), ...config })

export const markNotificationRead = (id: string) => http.post<MarkedRead>(`${base}/${id}/read`)

export const markAllNotificationsRead = () => http.post<MarkedRead>(`${base}/read-all`)
