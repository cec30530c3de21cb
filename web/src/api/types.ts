// The console's names for the API's types. Resources come from schema.d.ts,
// which `npm run gen:api` generates from ../openapi.yaml; only the generic
// shapes (envelope, pages, field errors) are written here.
import type { components, operations } from './schema'

type Schemas = components['schemas']
/** The query parameters of an operation. */
type Query<Op extends keyof operations> = NonNullable<operations[Op]['parameters']['query']>

/* ---------- generic shapes ---------- */

/** Every JSON body the API sends. */
export interface Envelope<T = unknown> {
  code: number
  message: string
  data: T
  traceId: string
}

/** One entry of `data.errors` in a 400 answer. */
export interface FieldError {
  /** e.g. `body.email`, `body.owner.username`, `query.page` */
  location: string
  /** English; the console shows `reason` translated when it knows it */
  message: string
  value?: unknown
  reason?: string
  params?: Record<string, unknown>
}

export type SortOrder = 'asc' | 'desc'

export interface PageParams {
  page?: number
  pageSize?: number
  sortBy?: string
  order?: SortOrder
}

export interface PageResult<T> {
  list: T[] | null
  total: number
  page: number
  pageSize: number
}

/* ---------- auth / public ---------- */

export type Me = Schemas['Me']
export type Role = Me['role']
export type CustomerRole = Exclude<Role, 'admin'>
export type AuthSource = Me['authSource']
export type LoginInput = Schemas['LoginInputBody']
export type TokenResult = Schemas['TokenPair']
export type PasswordResetRequestResult = Schemas['ResetRequestOutput']
export type PasswordResetConfirmInput = Schemas['ResetConfirmInputBody']
export type WsTicket = Schemas['WSTicket']
export type PublicStatus = Schemas['PublicStatus']
export type Announcement = Schemas['Announcement']
export type AnnouncementInput = Schemas['AnnouncementBody']
export type Level = Announcement['level']

/* ---------- admin: customers (tenants) ---------- */

export type Customer = Schemas['Tenant']
export type CustomerStatus = Customer['status']
export type CustomerListParams = Query<'list-customers'>
export type CustomerDetail = Schemas['CustomerDetail']
export type CustomerUpdateInput = Schemas['CustomerFields']
export type CustomerCreateInput = Schemas['CreateCustomerInputBody']
export type CustomerCreateResult = Schemas['CreatedCustomer']

export type User = Schemas['User']
export type UserCreateInput = Schemas['CreateCustomerUserInputBody']
export type UserCreateResult = Schemas['CreatedUser']
export type UserUpdateInput = Schemas['UpdateCustomerUserInputBody']

export type NotificationInput = Schemas['SendNotificationInputBody']
export type NotificationSendResult = Schemas['SentNotification']
export type NotificationBatch = Schemas['NotificationBatch']

/* ---------- admin: audit log ---------- */

export type AuditLog = Schemas['AuditLog']
export type AuditLogParams = Query<'list-audit-logs'>

/* ---------- customer ---------- */

export type ProfileInput = Schemas['UpdateProfileInputBody']
export type ChangePasswordInput = Schemas['ChangePasswordInputBody']
export type ChangePasswordResult = Schemas['PasswordChanged']
export type SshKey = Schemas['SSHKey']
export type SshKeyInput = Schemas['CreateSSHKeyInputBody']
export type Notification = Schemas['Notification']
export type NotificationPage = Schemas['NotificationPage']
export type MarkedRead = Schemas['MarkedRead']
export type NotificationListParams = Query<'list-notifications'>

/* ---------- admin: machines ---------- */

export type Machine = Schemas['Machine']
export type MachineStatus = Machine['status']
export type AllocationStatus = Machine['allocationStatus']
export type LiveAllocation = Schemas['LiveAllocation']
export type MachineListParams = Query<'list-machines'>
export type MachineOptions = Schemas['MachineOptions']
export type Region = Schemas['Region']
export type MachineCreateInput = Schemas['CreateMachineInputBody']
export type MachineUpdateInput = Schemas['UpdateMachineInputBody']
export type MachineCreateResult = Schemas['CreatedMachine']
export type AgentBootstrap = Schemas['AgentBootstrap']
export type RevealedPassword = Schemas['RevealedPassword']
/** The latest password reset (重置密码) of a machine and whether its host applied it. */
export type PasswordReset = Schemas['PasswordReset']
export type PasswordResetStatus = PasswordReset['status']
/** Set on a machine while the host has not confirmed its last lease's end-of-lease steps. */
export type MachineCleanup = Schemas['MachineCleanup']
export type SshCommand = Schemas['SSHCommand']
export type MaintenanceInput = Schemas['StartMaintenanceInputBody']
export type MaintenanceRecord = Schemas['MaintenanceRecord']
export type MaintenanceKind = MaintenanceRecord['kind']
export type MaintenanceListParams = Query<'list-maintenance-records'>
export type FleetStats = Schemas['FleetStats']

/* ---------- customer: my machines ---------- */

export type CustomerMachine = Schemas['CustomerMachine']
export type SshInfo = Schemas['SSHInfo']
export type MachineSummary = Schemas['MachineSummary']
export type CustomerMachineListParams = Query<'list-my-machines'>
export type ConnectionHistoryParams = Query<'list-my-connection-history'>
export type CustomerDashboardStats = Schemas['CustomerDashboardStats']

/* ---------- admin: allocations ---------- */

export type Allocation = Schemas['Allocation']
export type LeaseStatus = Allocation['status']
export type HostStep = Schemas['HostStep']
export type CleanupStatus = Allocation['cleanupStatus']
export type AllocationListParams = Query<'list-allocations'>
export type AllocationTab = NonNullable<Exclude<AllocationListParams['tab'], ''>>
export type AllocationCreateInput = Schemas['CreateAllocationsInputBody']
export type MachineAllocateInput = Schemas['AllocateMachineInputBody']

/* ---------- admin: machine import ---------- */

export type MachineImport = Schemas['MachineImport']
export type MachineImportDetail = Schemas['MachineImportDetail']
export type ImportRow = Schemas['MachineImportRow']
export type ImportCellError = Schemas['ImportCellError']
export type ImportStatus = MachineImport['status']
export type ImportRowStatus = ImportRow['status']
export type ImportRowResult = ImportRow['result']
export type MachineImportListParams = Query<'list-machine-imports'>

/* ---------- monitoring (admin and customer) ---------- */

export type RealtimeMachine = Schemas['RealtimeMachine']
export type LatestGpu = Schemas['LatestGPU']
/** `simulated`: the GPU figures are made up by the agent (label them); empty until an agent registers. */
export type GpuSource = RealtimeMachine['gpuSource']
export type RealtimeParams = Query<'get-admin-monitoring-realtime'>
export type RealtimeSort = NonNullable<Exclude<RealtimeParams['sortBy'], ''>>
export type GpuTrend = Schemas['GPUTrend']
export type TrendPoint = Schemas['TrendPoint']
export type GpuTrendParams = Query<'get-admin-gpu-trend'>
export type MonitoringRange = NonNullable<Exclude<GpuTrendParams['range'], ''>>
export type MachineRealtime = Schemas['MachineRealtime']
export type HostNow = Schemas['HostNow']
export type MachineHistory = Schemas['MachineHistory']
export type MachineHistoryParams = Query<'get-my-machine-monitoring'>
export type GpuSeries = Schemas['GPUSeries']
export type GpuPoint = Schemas['GPUPoint']
export type HostPoint = Schemas['HostPoint']
export type GpuProcess = Schemas['GPUProcessRow']
export type MachineProcesses = Schemas['MachineProcesses']
export type MachineInventory = Schemas['MachineInventory']
export type FaultyGpu = Schemas['FaultyGPU']
export type GpuFaultCleared = Schemas['GPUFaultCleared']
export type Inventory = Schemas['Inventory']
export type InventoryDifference = Schemas['InventoryDifference']

/* ---------- alerts ---------- */

export type Alert = Schemas['Alert']
export type AlertLevel = Alert['level']
export type AlertType = Alert['type']
export type AlertStatus = Alert['status']
export type AlertResolution = Alert['resolution']
export type AlertListParams = Query<'list-alerts'>
export type AlertStatusFilter = NonNullable<Exclude<AlertListParams['status'], ''>>
export type ActiveAlerts = Schemas['ActiveAlerts']
export type OpenAlertCounts = Schemas['OpenAlertCounts']
export type AlertRule = Schemas['AlertRule']
export type AlertRuleInput = Schemas['AlertRuleInput']

/* ---------- tasks (docs/tasks.md) ---------- */

export type Task = Schemas['Task']
export type TaskStatus = Task['status']
export type TaskType = Task['type']
export type TaskDetails = Schemas['TaskDetail']
export type TaskAttempt = Schemas['TaskAttempt']
export type TaskEnvVar = Schemas['TaskEnv']
export type TaskCreateInput = Schemas['TaskFields']
export type TaskListParams = Query<'list-my-tasks'>
export type AdminTaskListParams = Query<'list-tasks'>
export type TaskCounts = Schemas['TaskCounts']
export type AvailableMachine = Schemas['AvailableMachine']
export type TaskImage = Schemas['HostImage']
export type TaskLogLine = Schemas['TaskLogLine']
export type TaskLogPage = Schemas['LogPage']
export type TaskLogParams = Omit<Query<'get-my-task-logs'>, 'format'>
export type TaskMetrics = Schemas['GPUsOverTime']
export type TaskOutputs = Schemas['TaskOutputsResult']
export type TaskOutputFile = Schemas['OutputFile']
