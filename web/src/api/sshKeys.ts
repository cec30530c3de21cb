import { http } from './http'
import type { SshKey, SshKeyInput } from './types'

const base = '/api/customer/ssh-keys'

/** All keys of the caller (not paginated). */
export const listSshKeys = () => http.get<SshKey[] | null>(base)

/** 422 (invalid key) and 409 (duplicate) are shown at the field. */
export const createSshKey = (input: SshKeyInput) => http.post<SshKey>(base, input, { silent: [400, 409, 422] })

export const deleteSshKey = (id: string) => http.delete<Record<string, never>>(`${base}/${id}`)
