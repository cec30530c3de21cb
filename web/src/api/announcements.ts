import { cleanParams, http } from './http'
import type { Announcement, AnnouncementInput, PageParams, PageResult } from './types'

const base = '/api/admin/announcements'

export const listAnnouncements = (params: PageParams) =>
  http.get<PageResult<Announcement>>(base, { params: cleanParams(params) })

export const createAnnouncement = (input: AnnouncementInput) =>
  http.post<Announcement>(base, input, { silent: [400] })

export const updateAnnouncement = (id: string, input: AnnouncementInput) =>
  http.put<Announcement>(`${base}/${id}`, input, { silent: [400] })

export const deleteAnnouncement = (id: string) => http.delete<Record<string, never>>(`${base}/${id}`)
