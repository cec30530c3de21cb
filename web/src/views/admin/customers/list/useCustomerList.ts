import { reactive } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import { deleteCustomer, disableCustomer, enableCustomer, listCustomers } from '@/api/customers'
import type { Customer, CustomerListParams, CustomerStatus } from '@/api/types'
import { useTable } from '@/composables/useTable'
import { confirmAction } from '@/utils/confirm'

export const STATUS_FILTERS: ('' | CustomerStatus)[] = ['', 'active', 'pending', 'disabled']

export function useCustomerList() {
  const { t } = useI18n()
  const filters = reactive<{ status: '' | CustomerStatus; keyword: string }>({ status: '', keyword: '' })

  const table = useTable<Customer>(
    (page) =>
      listCustomers({
        ...page,
        sortBy: page.sortBy as CustomerListParams['sortBy'],
        status: filters.status || undefined,
        keyword: filters.keyword.trim() || undefined,
      }),
    { sortBy: 'createdAt', order: 'desc' },
  )

  function reset() {
    filters.status = ''
    filters.keyword = ''
    return table.search()
  }

  async function toggleStatus(c: Customer) {
    const enabling = c.status !== 'active'
    const ok = await confirmAction(t(enabling ? 'customer.confirmEnable' : 'customer.confirmDisable', { name: c.name }), {
      danger: !enabling,
    })
    if (!ok) return
    try {
      await (enabling ? enableCustomer(c.id) : disableCustomer(c.id))
      ElMessage.success(t(enabling ? 'customer.enabled' : 'customer.disabled'))
      await table.load()
    } catch {
      // reported by the HTTP layer
    }
  }

  async function remove(c: Customer) {
    const ok = await confirmAction(t('customer.confirmDelete', { name: c.name }), {
      danger: true,
      confirmText: t('common.delete'),
    })
    if (!ok) return
    try {
      await deleteCustomer(c.id)
      ElMessage.success(t('common.deleted'))
      await table.load()
    } catch {
      // 409 (still has allocations or data): the API's message is shown by the HTTP layer
    }
  }

  return { filters, ...table, reset, toggleStatus, remove }
}
