import { cleanParams, http } from './http'
import type {
  Customer,
  CustomerCreateInput,
  CustomerCreateResult,
  CustomerDetail,
  CustomerListParams,
  CustomerUpdateInput,
  NotificationBatch,
  NotificationInput,
  NotificationSendResult,
  PageParams,
  PageResult,
  User,
  UserCreateInput,
  UserCreateResult,
  UserUpdateInput,
} from './types'

const base = '/api/admin/customers'

export const listCustomers = (params: CustomerListParams) =>
  http.get<PageResult<Customer>>(base, { params: cleanParams(params) })

export const getCustomer = (id: string) => http.get<CustomerDetail>(`${base}/${id}`)

/** 400/409 are shown at the form fields. */
export const createCustomer = (input: CustomerCreateInput) =>
  http.post<CustomerCreateResult>(base, input, { silent: [400, 409] })

export const updateCustomer = (id: string, input: CustomerUpdateInput) =>
  http.put<Customer>(`${base}/${id}`, input, { silent: [400, 409] })

/** 409 (still has allocations or data) is toasted with the API's message. */
export const deleteCustomer = (id: string) => http.delete<Record<string, never>>(`${base}/${id}`)

export const disableCustomer = (id: string) => http.post<Customer>(`${base}/${id}/disable`)

export const enableCustomer = (id: string) => http.post<Customer>(`${base}/${id}/enable`)

export const createCustomerUser = (id: string, input: UserCreateInput) =>
  http.post<UserCreateResult>(`${base}/${id}/users`, input, { silent: [400, 409] })

export const updateCustomerUser = (id: string, userId: string, input: UserUpdateInput) =>
  http.put<User>(`${base}/${id}/users/${userId}`, input)

export const sendCustomerNotification = (id: string, input: NotificationInput) =>
  http.post<NotificationSendResult>(`${base}/${id}/notifications`, input, { silent: [400] })

export const listCustomerNotifications = (id: string, params: PageParams = {}) =>
  http.get<PageResult<NotificationBatch>>(`${base}/${id}/notifications`, { params: cleanParams(params) })
