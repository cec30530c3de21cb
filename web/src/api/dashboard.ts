import { http } from './http'
import type { CustomerDashboardStats, FleetStats } from './types'

export const getAdminDashboardStats = () => http.get<FleetStats>('/api/admin/dashboard/stats')

export const getCustomerDashboardStats = () => http.get<CustomerDashboardStats>('/api/customer/dashboard/stats')
