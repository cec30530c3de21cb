import { http } from './http'
import type { PageResult, SshKey, SshKeyInput } from './types'

const base = '/api/customer/ssh-keys'

/** A user keeps at most this many keys (internal/accounts MaxSSHKeys): one page holds them all. */
export const MAX_SSH_KEYS = 50

/** The caller's keys, newest first: one page of up to MAX_SSH_KEYS, which is all of them. */
export const listSshKeys = () => http.get<PageResult<SshKey>>(base, { params: { page: 1, pageSize: MAX_SSH_KEYS } })

/** 400 (invalid key) and 409 (duplicate) are shown at the field. */
export const createSshKey = (input: SshKeyInput) => http.post<SshKey>(base, input, { silent: [400, 409] })

export const deleteSshKey = (id: string) => http.delete<Record<string, never>>(`${base}/${id}`)
