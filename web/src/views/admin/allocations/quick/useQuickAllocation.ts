import { computed, reactive, ref, shallowReactive, shallowRef, useTemplateRef } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { useI18n } from 'vue-i18n'
import { ElMessage, type FormInstance, type FormRules } from 'element-plus'
import { createAllocations } from '@/api/allocations'
import { listMachines } from '@/api/machines'
import type { Machine } from '@/api/types'
import { useServerErrors } from '@/composables/useServerErrors'
import { maxLength, required } from '@/utils/rules'

export interface QuickAllocationForm {
  tenantId: string
  machineIds: string[]
  months: number
  remark: string
}

/**
 * The machines that can be allocated: online and not allocated (a machine
 * whose last lease is still being cleaned is shown disabled: machine.cleanup).
 */
export const ALLOCATABLE = { status: 'online', allocationStatus: 'unallocated' } as const

export function useQuickAllocation() {
  const { t } = useI18n()
  const route = useRoute()
  const router = useRouter()

  const formRef = useTemplateRef<FormInstance>('formRef')
  const form = reactive<QuickAllocationForm>({
    // the customer detail page's "分配新机器" comes with ?tenantId=
    tenantId: typeof route.query.tenantId === 'string' ? route.query.tenantId : '',
    machineIds: [],
    months: 1,
    remark: '',
  })
  const rules: FormRules<QuickAllocationForm> = {
    tenantId: [required('allocation.customer', 'change')],
    machineIds: [
      {
        trigger: 'change',
        validator: (_r, v: string[], cb) => (v?.length ? cb() : cb(new Error(t('allocation.pickMachines')))),
      },
    ],
    months: [required('allocation.months', 'change')],
    remark: [maxLength(500)],
  }
  const server = useServerErrors(['tenantId', 'machineIds', 'months', 'remark', 'form'] as const)
  const saving = ref(false)

  // Machines are searched on the server; the chosen ones stay known for their labels and the summary.
  const machineOptions = shallowRef<Machine[]>([])
  const chosen = shallowReactive(new Map<string, Machine>())
  const machinesLoading = ref(false)
  let seq = 0
  async function searchMachines(keyword: string) {
    const mine = ++seq
    machinesLoading.value = true
    try {
      const page = await listMachines({ page: 1, pageSize: 50, sortBy: 'name', order: 'asc', ...ALLOCATABLE, keyword: keyword.trim() || undefined })
      if (mine !== seq) return
      const found = page.list ?? []
      const keep = form.machineIds.map((id) => chosen.get(id)).filter((m): m is Machine => !!m && !found.some((f) => f.id === m.id))
      machineOptions.value = [...keep, ...found]
    } catch {
      // reported by the HTTP layer
    } finally {
      if (mine === seq) machinesLoading.value = false
    }
  }

  function onMachinesChange(ids: string[]) {
    for (const id of ids) {
      const m = machineOptions.value.find((o) => o.id === id)
      if (m) chosen.set(id, m)
    }
    for (const id of [...chosen.keys()]) if (!ids.includes(id)) chosen.delete(id)
  }

  const selected = computed(() => form.machineIds.map((id) => chosen.get(id)).filter((m): m is Machine => !!m))
  const selectedGpus = computed(() => selected.value.reduce((n, m) => n + m.gpuCount, 0))

  function removeMachine(id: string) {
    form.machineIds = form.machineIds.filter((x) => x !== id)
    onMachinesChange(form.machineIds)
  }

  async function submit() {
    if (!(await formRef.value?.validate().catch(() => false))) return
    saving.value = true
    server.clear()
    try {
      const created = (await createAllocations({
        tenantId: form.tenantId,
        machineIds: [...form.machineIds],
        months: form.months,
        remark: form.remark.trim() || undefined,
      })) ?? []
      ElMessage.success(t('allocation.allocated', created.length || form.machineIds.length))
      await router.push({ path: '/admin/allocations', query: { tenantId: form.tenantId } })
    } catch (e) {
      server.report(e, 'form')
      // a machine may have been taken meanwhile: offer the list as it is now
      void searchMachines('')
    } finally {
      saving.value = false
    }
  }

  function cancel() {
    void router.push(form.tenantId && route.query.tenantId ? `/admin/customers/${form.tenantId}` : '/admin/allocations')
  }

  return {
    form,
    rules,
    serverErrors: server.errors,
    saving,
    machineOptions,
    machinesLoading,
    searchMachines,
    onMachinesChange,
    selected,
    selectedGpus,
    removeMachine,
    submit,
    cancel,
  }
}
