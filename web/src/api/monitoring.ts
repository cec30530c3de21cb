// Monitoring: the admin's real-time list, a customer's leased
// machine (latest figures, history for charts, processes). The live pushes
// are WebSockets: see ws.ts.
import { cleanParams, http } from './http'
import type {
  MachineHistory,
  MachineHistoryParams,
  MachineProcesses,
  MachineRealtime,
  PageResult,
  RealtimeMachine,
  RealtimeParams,
} from './types'

/** Every machine's latest figures; pageSize up to 5000 takes the whole fleet at once. */
export const getAdminRealtime = (params: RealtimeParams) =>
  http.get<PageResult<RealtimeMachine>>('/api/admin/monitoring/realtime', { params: cleanParams(params) })

const mine = '/api/customer'

/** A leased machine's latest figures; 404 when it is not (or no longer) leased to the caller. */
export const getMyMachineRealtime = (machineId: string) =>
  http.get<MachineRealtime>(`${mine}/monitoring/${machineId}/realtime`, { silent: [404] })

/** A leased machine's figures over time (never before the lease began). */
export const getMyMachineMonitoring = (id: string, params: MachineHistoryParams) =>
  http.get<MachineHistory>(`${mine}/machines/${id}/monitoring`, { params: cleanParams(params), silent: [404] })

export const getMyMachineProcesses = (id: string) =>
  http.get<MachineProcesses>(`${mine}/machines/${id}/processes`, { silent: [404] })
