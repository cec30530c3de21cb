import { reactive, ref, shallowRef } from 'vue'
import { listAuditLogs } from '@/api/auditLogs'
import { listCustomers } from '@/api/customers'
import type { AuditLog, Customer } from '@/api/types'
import { useTable } from '@/composables/useTable'

/** Actions offered in the filter; any other can be typed in. */
export const KNOWN_ACTIONS = [
  'auth.login',
  'auth.logout',
  'auth.password_reset',
  'auth.password_change',
  'customer.create',
  'customer.update',
  'customer.delete',
  'customer.enable',
  'customer.disable',
  'user.create',
  'user.update',
  'user.role_change',
  'user.status_change',
  'notification.send',
  'announcement.create',
  'announcement.update',
  'announcement.delete',
  'ssh_key.create',
  'ssh_key.delete',
  'profile.update',
] as const

interface Filters {
  action: string
  keyword: string
  tenantId: string
  success: '' | 'true' | 'false'
  /** [from, to] as ISO strings */
  range: [string, string] | null
}

const emptyFilters = (): Filters => ({ action: '', keyword: '', tenantId: '', success: '', range: null })

export function useAuditLogs() {
  const filters = reactive<Filters>(emptyFilters())

  const table = useTable<AuditLog>(
    (page) =>
      listAuditLogs({
        ...page,
        action: filters.action || undefined,
        keyword: filters.keyword.trim() || undefined,
        tenantId: filters.tenantId || undefined,
        success: filters.success || undefined,
        from: filters.range?.[0],
        to: filters.range?.[1],
      }),
    { sortBy: 'createdAt', order: 'desc' },
  )

  function reset() {
    Object.assign(filters, emptyFilters())
    return table.search()
  }

  // The tenant filter searches customers as the admin types.
  const tenants = shallowRef<Customer[]>([])
  const tenantsLoading = ref(false)
  async function searchTenants(keyword: string) {
    tenantsLoading.value = true
    try {
      tenants.value = (await listCustomers({ page: 1, pageSize: 20, keyword: keyword.trim() || undefined })).list ?? []
    } catch {
      tenants.value = []
    } finally {
      tenantsLoading.value = false
    }
  }

  return { filters, ...table, reset, tenants, tenantsLoading, searchTenants }
}
