// The monitoring WebSockets (api/ws.go). They are chi routes, not Huma
// operations, so openapi.yaml does not describe them: their frames are typed
// here from the schema's pieces.
import { http } from './http'
import type { Alert, MachineRealtime, MachineStatus, OpenAlertCounts, RealtimeMachine, WsTicket } from './types'

export const WS_ADMIN_MONITORING = '/ws/admin/monitoring'
export const wsCustomerMonitoring = (machineId: string) => `/ws/customer/monitoring/${encodeURIComponent(machineId)}`

/** Close codes besides the standard ones. */
export const CLOSE_SESSION_ENDED = 4401 // logout, password change, account or customer disabled: log in again
export const CLOSE_LEASE_ENDED = 4403 // the machine is no longer leased to the caller's customer
export const CLOSE_SLOW_CONSUMER = 4008 // the client did not keep up: reconnect
export const CLOSE_GONE = 4404 // what the socket follows was deleted or is no longer the caller's (a task)

/** A machine turned online or offline by the monitoring. */
export interface StatusChange {
  machineId: string
  status: MachineStatus
  at: string
}

/** /ws/admin/monitoring: every sample interval (5 s), and at once after connecting. */
export interface AdminFrame {
  type: 'snapshot'
  /** when the server built the frame */
  at: string
  /** every machine, as GET /api/admin/monitoring/realtime lists them, by name */
  machines: RealtimeMachine[] | null
  /** online/offline changes since the previous frame, oldest first */
  statuses: StatusChange[] | null
  /** alerts opened or changed since the previous frame, in their current state */
  alerts: Alert[] | null
  /** every open alert, by level */
  openAlerts: OpenAlertCounts
}

/** /ws/customer/monitoring/{machineId}: when the machine's samples arrive, and at once after connecting. */
export interface CustomerFrame {
  type: 'realtime'
  at: string
  /** as GET /api/customer/monitoring/{machineId}/realtime */
  data: MachineRealtime
}

/**
 * A one-time ticket for one handshake (valid 30 s). Browsers cannot set
 * headers on a WebSocket, and the access token must not travel in a URL
 * (logs keep URLs); a ticket is spent by its handshake.
 */
export const createWsTicket = () => http.post<WsTicket>('/api/auth/ws-ticket', undefined, { silent: true })

/** The socket's URL on the console's own origin, with a ticket from createWsTicket. */
export function wsUrl(path: string, ticket: string, origin: string = window.location.origin): string {
  const u = new URL(path, origin)
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:'
  u.searchParams.set('ticket', ticket)
  return u.toString()
}

/** Two admin frames that arrived before the first could be shown, as one: the newer snapshot, both sets of changes. */
export function mergeAdminFrames(older: AdminFrame, newer: AdminFrame): AdminFrame {
  const alerts = new Map<string, Alert>()
  for (const a of [...(older.alerts ?? []), ...(newer.alerts ?? [])]) alerts.set(a.id, a)
  return {
    ...newer,
    statuses: [...(older.statuses ?? []), ...(newer.statuses ?? [])],
    alerts: [...alerts.values()],
  }
}
