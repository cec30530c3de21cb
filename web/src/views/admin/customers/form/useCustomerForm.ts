import { computed, reactive, ref, useTemplateRef } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { useI18n } from 'vue-i18n'
import { ElMessage, type FormInstance } from 'element-plus'
import { createCustomer, getCustomer, updateCustomer } from '@/api/customers'
import { useServerErrors } from '@/composables/useServerErrors'
import { customerRules, type CustomerForm } from './rules'

const FIELDS = [
  'code',
  'name',
  'company',
  'email',
  'phone',
  'remark',
  'status',
  'owner.username',
  'owner.name',
  'owner.email',
  'owner.phone',
  'owner.authSource',
  'owner.password',
] as const

export function useCustomerForm() {
  const { t } = useI18n()
  const route = useRoute()
  const router = useRouter()

  const id = computed(() => (typeof route.params.id === 'string' ? route.params.id : ''))
  const isEdit = computed(() => !!id.value)

  const formRef = useTemplateRef<FormInstance>('formRef')
  const form = reactive<CustomerForm>({
    code: '',
    name: '',
    company: '',
    email: '',
    phone: '',
    remark: '',
    status: 'active',
    owner: { username: '', name: '', email: '', phone: '', authSource: 'local', password: '' },
  })
  const rules = customerRules(form)
  const server = useServerErrors(FIELDS)
  const loading = ref(false)
  const saving = ref(false)
  const loadFailed = ref(false)
  /** shown once after creating an owner without a password */
  const created = reactive({ visible: false, customerId: '', username: '', password: '' })

  async function load() {
    if (!isEdit.value) return
    loading.value = true
    try {
      const c = await getCustomer(id.value)
      Object.assign(form, { name: c.name, company: c.company, email: c.email, phone: c.phone, remark: c.remark })
    } catch {
      loadFailed.value = true
    } finally {
      loading.value = false
    }
  }

  /** The owner's contact defaults to the customer's while left empty. */
  function fillOwnerContact() {
    if (!form.owner.email) form.owner.email = form.email
    if (!form.owner.phone) form.owner.phone = form.phone
  }

  async function submit() {
    if (!(await formRef.value?.validate().catch(() => false))) return
    saving.value = true
    server.clear()
    const base = {
      name: form.name.trim(),
      company: form.company.trim(),
      email: form.email.trim(),
      phone: form.phone.trim(),
      remark: form.remark.trim(),
    }
    try {
      if (isEdit.value) {
        await updateCustomer(id.value, base)
        ElMessage.success(t('common.saved'))
        await router.push(`/admin/customers/${id.value}`)
        return
      }
      const { owner } = form
      const result = await createCustomer({
        ...base,
        code: form.code.trim() || undefined,
        status: form.status,
        owner: {
          username: owner.username.trim(),
          name: owner.name.trim(),
          email: owner.email.trim(),
          phone: owner.phone.trim(),
          authSource: owner.authSource,
          password: owner.authSource === 'local' && owner.password ? owner.password : undefined,
        },
      })
      ElMessage.success(t('customer.created'))
      if (result.initialPassword) {
        Object.assign(created, {
          visible: true,
          customerId: result.customer.id,
          username: result.owner.username,
          password: result.initialPassword,
        })
      } else {
        await router.push(`/admin/customers/${result.customer.id}`)
      }
    } catch (e) {
      server.report(e)
    } finally {
      saving.value = false
    }
  }

  function afterInitialPassword() {
    void router.push(`/admin/customers/${created.customerId}`)
  }

  function cancel() {
    void router.push(isEdit.value ? `/admin/customers/${id.value}` : '/admin/customers/list')
  }

  return {
    isEdit,
    form,
    rules,
    serverErrors: server.errors,
    loading,
    loadFailed,
    saving,
    created,
    load,
    fillOwnerContact,
    submit,
    afterInitialPassword,
    cancel,
  }
}
