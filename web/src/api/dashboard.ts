import { cleanParams, http } from './http'
import type { CustomerDashboardStats, FleetStats, GpuTrend, GpuTrendParams } from './types'

export const getAdminDashboardStats = () => http.get<FleetStats>('/api/admin/dashboard/stats')

/** The fleet's GPU utilisation over time (average and busiest GPU per step), from the roll-ups. */
export const getGpuTrend = (params: GpuTrendParams) =>
  http.get<GpuTrend>('/api/admin/dashboard/gpu-trend', { params: cleanParams(params) })

export const getCustomerDashboardStats = () => http.get<CustomerDashboardStats>('/api/customer/dashboard/stats')
