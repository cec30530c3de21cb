import { computed, reactive, ref, useTemplateRef } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { useI18n } from 'vue-i18n'
import { ElMessage, type FormInstance } from 'element-plus'
import { createMachine, getMachine, updateMachine } from '@/api/machines'
import type { Machine, MachineCreateInput } from '@/api/types'
import type { OnceItem } from '@/components/SecretOnceDialog.vue'
import { useServerErrors } from '@/composables/useServerErrors'
import { useMachineOptions } from '../useMachineOptions'
import { bootstrapHint } from '../useMachineActions'
import { emptyMachineForm, machineRules, type MachineForm } from './rules'

export const MACHINE_FIELDS = [
  'name',
  'region',
  'room',
  'gpuModel',
  'gpuMemoryGb',
  'gpuCount',
  'cudaVersion',
  'driverVersion',
  'cpuModel',
  'cpuCores',
  'memoryGb',
  'diskGb',
  'internalIp',
  'sshHost',
  'sshPort',
  'containerDomainPrefix',
  'sshUser',
  'sshPassword',
  'status',
] as const

/** The form of a machine as loaded for editing. */
export function formOf(m: Machine): MachineForm {
  return {
    ...emptyMachineForm(),
    name: m.name,
    region: m.region,
    room: m.room,
    gpuModel: m.gpuModel,
    gpuMemoryGb: m.gpuMemoryGb,
    gpuCount: m.gpuCount,
    cudaVersion: m.cudaVersion,
    driverVersion: m.driverVersion,
    cpuModel: m.cpuModel,
    cpuCores: m.cpuCores || null,
    memoryGb: m.memoryGb || null,
    diskGb: m.diskGb || null,
    internalIp: m.internalIp,
    sshHost: m.sshHost,
    sshPort: m.sshPort,
    containerDomainPrefix: m.containerDomainPrefix,
    sshUser: m.sshUser,
    status: m.status,
  }
}

/** The API's body: text trimmed, empty numbers left out (the API fills its defaults). */
export function bodyOf(form: MachineForm): Omit<MachineCreateInput, 'status' | 'sshPassword'> {
  const num = (v: number | null) => (v === null || v === undefined ? undefined : v)
  return {
    name: form.name.trim(),
    region: form.region,
    room: form.room.trim() || undefined,
    gpuModel: form.gpuModel.trim(),
    gpuMemoryGb: form.gpuMemoryGb ?? 0,
    gpuCount: form.gpuCount ?? 0,
    cudaVersion: form.cudaVersion.trim() || undefined,
    driverVersion: form.driverVersion.trim() || undefined,
    cpuModel: form.cpuModel.trim() || undefined,
    cpuCores: num(form.cpuCores),
    memoryGb: num(form.memoryGb),
    diskGb: num(form.diskGb),
    internalIp: form.internalIp.trim() || undefined,
    sshHost: form.sshHost.trim() || undefined,
    sshPort: num(form.sshPort),
    containerDomainPrefix: form.containerDomainPrefix.trim() || undefined,
    sshUser: form.sshUser.trim() || undefined,
  }
}

export function useMachineForm() {
  const { t } = useI18n()
  const route = useRoute()
  const router = useRouter()

  const id = computed(() => (typeof route.params.id === 'string' ? route.params.id : ''))
  const isEdit = computed(() => !!id.value)

  const formRef = useTemplateRef<FormInstance>('formRef')
  const form = reactive<MachineForm>(emptyMachineForm())
  const server = useServerErrors(MACHINE_FIELDS)
  const { options } = useMachineOptions()
  const loading = ref(false)
  const loadFailed = ref(false)
  const saving = ref(false)
  /** shown once after adding: the agent's bootstrap token and install command */
  const created = reactive<{ visible: boolean; machineId: string; name: string; items: OnceItem[]; hint: string }>({
    visible: false,
    machineId: '',
    name: '',
    items: [],
    /** shown once, and until when the token works */
    hint: '',
  })

  async function load() {
    if (!isEdit.value) return
    loading.value = true
    try {
      Object.assign(form, formOf(await getMachine(id.value)))
      loadFailed.value = false
    } catch {
      loadFailed.value = true
    } finally {
      loading.value = false
    }
  }

  async function submit() {
    if (!(await formRef.value?.validate().catch(() => false))) return
    saving.value = true
    server.clear()
    try {
      if (isEdit.value) {
        await updateMachine(id.value, {
          ...bodyOf(form),
          status: form.status === 'maintenance' ? undefined : form.status,
        })
        ElMessage.success(t('common.saved'))
        await router.push(`/admin/machines/${id.value}`)
        return
      }
      const result = await createMachine({
        ...bodyOf(form),
        sshPassword: form.sshPassword || undefined,
        status: form.status === 'maintenance' ? undefined : form.status,
      })
      ElMessage.success(t('machine.created'))
      Object.assign(created, {
        visible: true,
        machineId: result.machine.id,
        name: result.machine.name,
        hint: bootstrapHint(t, result.expiresAt),
        items: [
          { label: t('machine.agentToken'), value: result.agentToken, testid: 'agent-token' },
          { label: t('machine.installCommand'), value: result.installCommand, testid: 'install-command' },
        ],
      })
    } catch (e) {
      server.report(e)
    } finally {
      saving.value = false
    }
  }

  /** After the token dialog: the new machine's page. */
  function afterCreated() {
    void router.push(`/admin/machines/${created.machineId}`)
  }

  function cancel() {
    void router.push(isEdit.value ? `/admin/machines/${id.value}` : '/admin/machines/list')
  }

  return {
    isEdit,
    form,
    rules: machineRules,
    serverErrors: server.errors,
    options,
    loading,
    loadFailed,
    saving,
    created,
    load,
    submit,
    afterCreated,
    cancel,
  }
}
