import { computed, ref, shallowRef } from 'vue'
import { useRoute } from 'vue-router'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import { disableCustomer, enableCustomer, getCustomer, updateCustomerUser } from '@/api/customers'
import type { CustomerDetail, CustomerRole, User } from '@/api/types'
import { confirmAction } from '@/utils/confirm'

export function useCustomerDetail() {
  const { t } = useI18n()
  const route = useRoute()
  const id = computed(() => String(route.params.id))

  const customer = shallowRef<CustomerDetail | null>(null)
  const loading = ref(false)
  const loadFailed = ref(false)

  async function load() {
    loading.value = true
    try {
      customer.value = await getCustomer(id.value)
      loadFailed.value = false
    } catch {
      loadFailed.value = !customer.value
    } finally {
      loading.value = false
    }
  }

  async function toggleStatus() {
    const c = customer.value
    if (!c) return
    const enabling = c.status !== 'active'
    const ok = await confirmAction(t(enabling ? 'customer.confirmEnable' : 'customer.confirmDisable', { name: c.name }), {
      danger: !enabling,
    })
    if (!ok) return
    try {
      const updated = await (enabling ? enableCustomer(c.id) : disableCustomer(c.id))
      customer.value = { ...c, ...updated }
      ElMessage.success(t(enabling ? 'customer.enabled' : 'customer.disabled'))
    } catch {
      // reported by the HTTP layer
    }
  }

  /** Replace one user in place after a change. */
  function patchUser(updated: User) {
    const c = customer.value
    if (c) customer.value = { ...c, users: (c.users ?? []).map((u) => (u.id === updated.id ? updated : u)) }
  }

  async function updateUser(u: User, change: { role?: CustomerRole; status?: User['status'] }, confirmKey: string) {
    if (!(await confirmAction(t(confirmKey, { name: u.name || u.username }), { danger: change.status === 'disabled' }))) {
      return
    }
    try {
      const updated = await updateCustomerUser(id.value, u.id, {
        name: u.name,
        email: u.email,
        phone: u.phone,
        role: change.role ?? (u.role as CustomerRole),
        status: change.status ?? u.status,
      })
      patchUser(updated)
      ElMessage.success(t('common.saved'))
    } catch {
      // reported by the HTTP layer
    }
  }

  const changeRole = (u: User) =>
    updateUser(u, { role: u.role === 'owner' ? 'member' : 'owner' }, u.role === 'owner' ? 'user.confirmMakeMember' : 'user.confirmMakeOwner')

  const toggleUser = (u: User) =>
    updateUser(
      u,
      { status: u.status === 'active' ? 'disabled' : 'active' },
      u.status === 'active' ? 'user.confirmDisable' : 'user.confirmEnable',
    )

  return { id, customer, loading, loadFailed, load, toggleStatus, changeRole, toggleUser }
}
