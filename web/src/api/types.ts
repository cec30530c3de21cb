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

/** One entry of `data.errors` in a 400/422 answer. */
export interface FieldError {
  /** e.g. `body.email`, `body.owner.username`, `query.page` */
  location: string
  message: string
  value?: unknown
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
export type ResetPasswordResult = Schemas['ResetPasswordOutput']
export type SshCommand = Schemas['SSHCommand']
export type MaintenanceInput = Schemas['StartMaintenanceInputBody']
export type MaintenanceRecord = Schemas['MaintenanceRecord']
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
