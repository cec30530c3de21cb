import { http } from './http'
import type { Announcement, PageParams, PageResult, PublicStatus } from './types'

export const getPublicStatus = () => http.get<PublicStatus>('/api/public/status', { skipAuth: true, silent: true })

export const listPublicAnnouncements = (params: PageParams = { page: 1, pageSize: 10 }) =>
  http.get<PageResult<Announcement>>('/api/public/announcements', { params, skipAuth: true, silent: true })
