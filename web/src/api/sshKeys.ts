import { cleanParams, http } from './http'
import type { PageParams, PageResult, SshKey, SshKeyInput } from './types'

const base = '/api/customer/ssh-keys'

export const listSshKeys = (params: PageParams = {}) =>
  http.get<PageResult<SshKey>>(base, { params: cleanParams(params) })

/** 422 (invalid key) and 409 (duplicate) are shown at the field. */
export const createSshKey = (input: SshKeyInput) => http.post<SshKey>(base, input, { silent: [400, 409, 422] })

export const deleteSshKey = (id: string) => http.delete<Record<string, never>>(`${base}/${id}`)
