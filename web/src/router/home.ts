import type { Role } from '@/api/types'

export const ADMIN_HOME = '/admin/customers/list'
export const CUSTOMER_HOME = '/customer/settings/profile'

/** Where a user lands after login. */
export function homePathFor(role: Role | null | undefined): string {
  if (role === 'admin') return ADMIN_HOME
  if (role === 'owner' || role === 'member') return CUSTOMER_HOME
  return '/login'
}
