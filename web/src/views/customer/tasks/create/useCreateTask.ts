import { computed, reactive, ref, shallowRef, useTemplateRef, watch } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { useI18n } from 'vue-i18n'
import { ElMessage, type FormInstance } from 'element-plus'
import { describeError, isApiError } from '@/api/http'
import { createTask, listAvailableMachines, listTaskImages, type AvailableMachine, type TaskImage } from '@/api/tasks'
import { listMountedOn, type DatasetMount } from '@/api/datasets'
import {
  bodyOf,
  emptyTaskForm,
  placeTaskErrors,
  sentEnvRows,
  taskRules,
  TASK_FIELDS,
  type TaskField,
  type TaskForm,
} from './rules'

let envKey = 0

export function useCreateTask() {
  const { t } = useI18n()
  const route = useRoute()
  const router = useRouter()

  const formRef = useTemplateRef<FormInstance>('formRef')
  const form = reactive<TaskForm>(emptyTaskForm())
  const machines = shallowRef<AvailableMachine[]>([])
  const machinesLoading = ref(false)
  const machinesFailed = ref(false)
  const images = shallowRef<TaskImage[]>([])
  const imagesLoading = ref(false)
  /** the datasets mounted on the chosen machine */
  const mounts = shallowRef<DatasetMount[]>([])
  const saving = ref(false)
  /** the API's errors by field, and by env row */
  const serverErrors = reactive({}) as Record<TaskField, string>
  const envErrors = ref<Record<number, { name?: string; value?: string }>>({})
  /** an error with no field to show it at */
  const formError = ref('')

  const machine = computed(() => machines.value.find((m) => m.id === form.machineId))
  const rules = taskRules(() => machine.value, () => form)

  function clearErrors() {
    for (const f of TASK_FIELDS) serverErrors[f] = ''
    envErrors.value = {}
    formError.value = ''
  }
  clearErrors()

  async function loadMachines() {
    machinesLoading.value = true
    try {
      machines.value = await listAvailableMachines()
      machinesFailed.value = false
      // ?machineId= (from a machine's page) or the only machine there is
      const wanted = typeof route.query.machineId === 'string' ? route.query.machineId : ''
      if (!form.machineId) {
        if (wanted && machines.value.some((m) => m.id === wanted)) form.machineId = wanted
        else if (machines.value.length === 1) form.machineId = machines.value[0].id
      }
    } catch {
      machinesFailed.value = true
    } finally {
      machinesLoading.value = false
    }
  }

  let imagesSeq = 0
  async function loadImages(machineId: string) {
    const mine = ++imagesSeq
    images.value = []
    if (!machineId) return
    imagesLoading.value = true
    try {
      const list = await listTaskImages(machineId)
      if (mine === imagesSeq) images.value = list
    } catch {
      // the field still takes a typed reference
    } finally {
      if (mine === imagesSeq) imagesLoading.value = false
    }
  }

  let mountsSeq = 0
  async function loadMounts(machineId: string) {
    const mine = ++mountsSeq
    mounts.value = []
    form.datasetMounts = []
    if (!machineId) return
    try {
      const list = await listMountedOn(machineId)
      if (mine === mountsSeq) mounts.value = list
    } catch {
      // the task can still run without datasets
    }
  }

  // another machine: its images and mounted datasets, and no more GPUs than it has
  watch(
    () => form.machineId,
    (id) => {
      void loadImages(id)
      void loadMounts(id)
      const m = machine.value
      if (m && form.gpuCount !== null && form.gpuCount > m.gpuCount) form.gpuCount = m.gpuCount
    },
  )

  function addEnv() {
    form.env.push({ key: ++envKey, name: '', value: '' })
  }

  function removeEnv(index: number) {
    form.env.splice(index, 1)
    envErrors.value = {}
  }

  async function submit() {
    clearErrors()
    if (!(await formRef.value?.validate().catch(() => false))) return
    saving.value = true
    const rows = sentEnvRows(form)
    try {
      const task = await createTask(bodyOf(form))
      ElMessage.success(t('task.form.created'))
      await router.push(`/customer/tasks/${task.id}`)
    } catch (e) {
      if (!isApiError(e)) throw e
      const placed = placeTaskErrors(e, rows)
      Object.assign(serverErrors, placed.fields)
      envErrors.value = placed.env
      // a 409 (the machine is no longer leased …) or a bad input with no field of ours
      if (!placed.placed && !e.notified) formError.value = describeError(e)
    } finally {
      saving.value = false
    }
  }

  function cancel() {
    void router.push('/customer/tasks/list')
  }

  void loadMachines()

  return {
    form,
    rules,
    machines,
    machine,
    machinesLoading,
    machinesFailed,
    images,
    imagesLoading,
    mounts,
    saving,
    serverErrors,
    envErrors,
    formError,
    loadMachines,
    addEnv,
    removeEnv,
    submit,
    cancel,
  }
}
