// Hand-written from the API contract until ../openapi.yaml exists; then
// `npm run gen:api` produces schema.d.ts and these become aliases of it.

export type Role = 'admin' | 'owner' | 'member'
export type CustomerRole = Exclude<Role, 'admin'>
export type AuthSource = 'local' | 'ldap'
export type Level = 'info' | 'warning' | 'critical'
export type SortOrder = 'asc' | 'desc'

/** Every JSON body the API sends. */
export interface Envelope<T = unknown> {
  code: number
  message: string
  data: T
  traceId: string
}

/** One entry of `data.errors` in a 400/422 answer. */
export interface FieldError {
  /** e.g. `body.email`, `query.page` */
  location: string
  message: string
  value?: unknown
}

export interface PageParams {
  page?: number
  pageSize?: number
  sortBy?: string
  order?: SortOrder
}

export interface PageResult<T> {
  list: T[]
  total: number
  page: number
  pageSize: number
}

/* ---------- auth / public ---------- */

export interface Me {
  id: string
  username: string
  name: string
  email: string
  phone: string
  role: Role
  tenantId?: string
  tenantName?: string
  company?: string
  authSource: AuthSource
  hasAvatar: boolean
}

export interface LoginInput {
  username: string
  password: string
}

export interface TokenResult {
  accessToken: string
  refreshToken: string
  /** seconds */
  expiresIn: number
  user: Me
}

export interface PasswordResetRequestResult {
  resendAfter: number
  expiresIn: number
}

export interface PasswordResetConfirmInput {
  account: string
  code: string
  newPassword: string
}

export interface PublicStatus {
  ldap: { enabled: boolean; available: boolean }
  maintenance: boolean
  message: string
}

export interface Announcement {
  id: string
  title: string
  content: string
  level: Level
  published: boolean
  createdAt: string
  updatedAt: string
}

export type AnnouncementInput = Pick<Announcement, 'title' | 'content' | 'level' | 'published'>

/* ---------- admin: customers ---------- */

export type CustomerStatus = 'active' | 'pending' | 'disabled'

export interface Customer {
  id: string
  name: string
  company: string
  email: string
  phone: string
  status: CustomerStatus
  machineCount: number
  userCount: number
  remark: string
  createdAt: string
  updatedAt: string
}

export interface CustomerListParams extends PageParams {
  status?: CustomerStatus
  keyword?: string
  sortBy?: 'name' | 'company' | 'createdAt' | 'machineCount'
}

export interface CustomerStats {
  machineCount: number
  activeAllocations: number
  runningTasks: number
  usageHours: number
}

export interface CustomerDetail extends Customer {
  users: User[]
  stats: CustomerStats
}

export interface OwnerInput {
  username: string
  name: string
  email: string
  phone: string
  authSource: AuthSource
  /** local only; generated and returned once when empty */
  password?: string
}

export interface CustomerUpdateInput {
  name: string
  company: string
  email: string
  phone: string
  remark: string
}

export interface CustomerCreateInput extends CustomerUpdateInput {
  status?: Exclude<CustomerStatus, 'disabled'>
  owner: OwnerInput
}

export interface CustomerCreateResult {
  customer: Customer
  owner: User
  initialPassword?: string
}

export type UserStatus = 'active' | 'disabled'

export interface User {
  id: string
  tenantId: string
  username: string
  name: string
  email: string
  phone: string
  employeeId: string
  role: Role
  authSource: AuthSource
  status: UserStatus
  lastLoginAt: string | null
  createdAt: string
}

export interface UserCreateInput {
  username: string
  name: string
  email: string
  phone: string
  employeeId: string
  role: CustomerRole
  authSource: AuthSource
  password?: string
}

export interface UserCreateResult {
  user: User
  initialPassword?: string
}

export interface UserUpdateInput {
  name: string
  email: string
  phone: string
  role: CustomerRole
  status: UserStatus
}

export interface NotificationInput {
  title: string
  content: string
  level: Level
  sendEmail: boolean
}

export interface NotificationSendResult {
  batchId: string
  workflowId: string
}

export type BatchStatus = 'sending' | 'sent' | 'failed'

export interface NotificationBatch {
  id: string
  title: string
  content: string
  level: Level
  sendEmail: boolean
  status: BatchStatus
  recipients: number
  createdAt: string
  senderName: string
}

/* ---------- admin: audit logs ---------- */

export interface AuditLog {
  id: string
  createdAt: string
  actorId: string
  actorName: string
  actorRole: Role | string
  tenantId: string | null
  tenantName: string | null
  action: string
  targetType: string
  targetId: string
  success: boolean
  ip: string
  traceId: string
  detail: Record<string, unknown> | null
}

export interface AuditLogParams extends PageParams {
  tenantId?: string
  actorId?: string
  action?: string
  targetType?: string
  success?: boolean
  keyword?: string
  /** RFC 3339 */
  from?: string
  /** RFC 3339 */
  to?: string
}

/* ---------- customer ---------- */

export interface ProfileInput {
  name: string
  email: string
  phone: string
}

export interface ChangePasswordInput {
  oldPassword: string
  newPassword: string
}

export interface ChangePasswordResult {
  revokedSessions: number
}

export interface SshKey {
  id: string
  name: string
  /** SHA256:… */
  fingerprint: string
  keyType: string
  comment: string
  createdAt: string
}

export interface SshKeyInput {
  name: string
  publicKey: string
}

export interface Notification {
  id: string
  title: string
  content: string
  level: Level
  readAt: string | null
  createdAt: string
}

export interface NotificationPage extends PageResult<Notification> {
  unread: number
}

/* ---------- dev ---------- */

export interface DevMail {
  id: string
  from: string
  to: string[]
  subject: string
  text: string
  html: string
  receivedAt: string
}
