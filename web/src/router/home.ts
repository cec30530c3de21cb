import type { Role } from '@/api/types'

export const ADMIN_HOME = '/admin/dashboard'
export const CUSTOMER_HOME = '/customer/dashboard'

/** Where a user lands after login. */
export function homePathFor(role: Role | null | undefined): string {
  if (role === 'admin') return ADMIN_HOME
  if (role === 'owner' || role === 'member') return CUSTOMER_HOME
  return '/login'
}
