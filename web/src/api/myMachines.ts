// The customer's machines (requirements 3.1.2): only those leased to the caller's company.
import { cleanParams, http } from './http'
import type {
  AuditLog,
  ConnectionHistoryParams,
  CustomerMachine,
  CustomerMachineListParams,
  MachineSummary,
  PageResult,
  RevealedPassword,
} from './types'

const base = '/api/customer/machines'

export const listMyMachines = (params: CustomerMachineListParams) =>
  http.get<PageResult<CustomerMachine>>(base, { params: cleanParams(params) })

export const getMyMachinesSummary = () => http.get<MachineSummary[] | null>(`${base}/summary`)

/** Password reveals and copied connection commands (from the audit log). */
export const listMyConnectionHistory = (params: ConnectionHistoryParams) =>
  http.get<PageResult<AuditLog>>(`${base}/connection-history`, { params: cleanParams(params) })

export const getMyMachine = (id: string) => http.get<CustomerMachine>(`${base}/${id}`)

/** Recorded in the connection history. */
export const revealMyMachinePassword = (id: string) => http.post<RevealedPassword>(`${base}/${id}/reveal-password`)

/** Say that the SSH command was copied, so it shows in the connection history. A lost record is not worth a toast. */
export const recordCommandCopied = (id: string) =>
  http.post<Record<string, never>>(`${base}/${id}/connection-events`, { kind: 'copy_command' }, { silent: true })
