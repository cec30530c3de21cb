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
