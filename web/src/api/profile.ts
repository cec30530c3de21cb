import { http } from './http'
import type { ChangePasswordInput, ChangePasswordResult, Me, ProfileInput } from './types'

const base = '/api/customer/profile'

export const getProfile = () => http.get<Me>(base)

export const updateProfile = (input: ProfileInput) => http.put<Me>(base, input, { silent: [400, 409] })

export const changePassword = (input: ChangePasswordInput) =>
  http.post<ChangePasswordResult>(`${base}/change-password`, input, { silent: [400] })

export function uploadAvatar(file: File) {
  const form = new FormData()
  form.append('file', file)
  return http.post<Me>(`${base}/avatar`, form)
}

/** The avatar bytes, fetched with the token (an <img src> could not send it). */
export const getAvatar = () => http.blob(`${base}/avatar`, { silent: [404] })
