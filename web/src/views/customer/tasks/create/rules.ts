// The create-task form (3.1.3.2): its fields, the checks made before
// sending, the body sent, and where the API's field errors are shown.
import type { FormItemRule, FormRules } from 'element-plus'
import { fieldText, type ApiError } from '@/api/http'
import type { AvailableMachine, TaskCreateInput, TaskType } from '@/api/tasks'
import { i18n } from '@/locales'
import { maxLength, required } from '@/utils/rules'

const t = (key: string, named: Record<string, unknown> = {}) => i18n.global.t(key, named)

export interface EnvRow {
  /** a stable key for v-for */
  key: number
  name: string
  value: string
}

export interface TaskForm {
  name: string
  type: TaskType
  machineId: string
  anyMachine: boolean
  gpuCount: number | null
  image: string
  workDir: string
  scriptPath: string
  command: string
  env: EnvRow[]
  autoRestart: boolean
  maxAttempts: number | null
  notifyInApp: boolean
  notifyMail: boolean
  checkpointIntervalSeconds: number | null
  servicePort: number | null
  /** mounts (of datasets on the machine) bound read-only into the container */
  datasetMounts: string[]
}

export const TASK_FIELDS = [
  'name',
  'type',
  'machineId',
  'anyMachine',
  'gpuCount',
  'image',
  'workDir',
  'scriptPath',
  'command',
  'env',
  'autoRestart',
  'maxAttempts',
  'notifyInApp',
  'notifyMail',
  'checkpointIntervalSeconds',
  'servicePort',
  'datasets',
] as const
export type TaskField = (typeof TASK_FIELDS)[number]

// The API's limits (internal/tasks).
export const MAX_NAME = 64
export const MAX_ATTEMPTS = 10
export const MIN_CHECKPOINT_INTERVAL = 60
export const MAX_CHECKPOINT_INTERVAL = 86_400
export const MIN_SERVICE_PORT = 1024
export const MAX_COMMAND = 10_000

export const emptyTaskForm = (): TaskForm => ({
  name: '',
  type: 'training',
  machineId: '',
  anyMachine: false,
  gpuCount: 1,
  image: '',
  workDir: '',
  scriptPath: '',
  command: '',
  env: [],
  autoRestart: false,
  maxAttempts: 3,
  notifyInApp: true,
  notifyMail: false,
  checkpointIntervalSeconds: 600,
  servicePort: null,
  datasetMounts: [],
})

/** The paths and variables every task container gets (docs/tasks.md, agentproto). */
export const CONTAINER_ENV = [
  { name: 'RGPU_OUTPUT_DIR', value: '/rgpu/output' },
  { name: 'RGPU_CHECKPOINT_DIR', value: '/rgpu/checkpoints' },
  { name: 'RGPU_CHECKPOINT_INTERVAL', value: '' },
  { name: 'RGPU_TASK_ID', value: '' },
  { name: 'RGPU_ATTEMPT', value: '' },
  { name: 'CUDA_VISIBLE_DEVICES', value: '' },
  { name: 'NVIDIA_VISIBLE_DEVICES', value: '' },
] as const

/** A shell-style variable name. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
/** The variables the platform sets: a task's own cannot override them. */
export const isReservedEnv = (name: string) =>
  /^RGPU_/i.test(name) || ['CUDA_VISIBLE_DEVICES', 'NVIDIA_VISIBLE_DEVICES'].includes(name.toUpperCase())

/** What is wrong with the name of env row `index`; '' when nothing (an empty row is left out). */
export function envNameProblem(rows: readonly Pick<EnvRow, 'name' | 'value'>[], index: number): string {
  const name = rows[index]?.name.trim() ?? ''
  if (!name) return rows[index]?.value ? t('task.form.envNameRequired') : ''
  if (!ENV_NAME.test(name)) return t('task.form.envNameInvalid')
  if (isReservedEnv(name)) return t('task.form.envNameReserved', { name })
  if (rows.findIndex((r) => r.name.trim() === name) !== index) return t('task.form.envNameDuplicate', { name })
  return ''
}

/** The rule of env row `index`'s name (Element Plus runs it on blur and on submit). */
export const envNameRule = (rows: () => readonly Pick<EnvRow, 'name' | 'value'>[], index: number): FormItemRule => ({
  trigger: 'blur',
  validator: (_r, _v, cb) => {
    const problem = envNameProblem(rows(), index)
    return problem ? cb(new Error(problem)) : cb()
  },
})

const between = (min: number, max: () => number, requiredKey?: string): FormItemRule => ({
  required: !!requiredKey,
  trigger: ['blur', 'change'],
  validator: (_r, v: number | null, cb) => {
    if (v === null || v === undefined) return requiredKey ? cb(new Error(t('validation.required', { field: t(requiredKey) }))) : cb()
    const hi = max()
    return v >= min && v <= hi ? cb() : cb(new Error(t('validation.between', { min, max: hi })))
  },
})

/** The rules; `machine` is the machine chosen (its GPU count bounds the GPUs asked for), `form` the form. */
export function taskRules(machine: () => AvailableMachine | undefined, form: () => TaskForm): FormRules<TaskForm> {
  return {
    name: [required('task.name'), maxLength(MAX_NAME)],
    machineId: [required('task.machine', 'change')],
    gpuCount: [between(1, () => machine()?.gpuCount ?? 64, 'task.gpuCount')],
    image: [required('task.image', 'change'), maxLength(500)],
    workDir: [
      maxLength(1024),
      {
        trigger: 'blur',
        validator: (_r, v: string, cb) => (!v || v.startsWith('/') ? cb() : cb(new Error(t('task.form.absolutePath')))),
      },
    ],
    scriptPath: [maxLength(1024)],
    command: [required('task.command'), maxLength(MAX_COMMAND)],
    maxAttempts: [between(1, () => MAX_ATTEMPTS, 'task.maxAttempts')],
    checkpointIntervalSeconds: [
      {
        trigger: ['blur', 'change'],
        validator: (_r, v: number | null, cb) =>
          !v || (v >= MIN_CHECKPOINT_INTERVAL && v <= MAX_CHECKPOINT_INTERVAL)
            ? cb()
            : cb(new Error(t('task.form.checkpointRange', { min: MIN_CHECKPOINT_INTERVAL, max: MAX_CHECKPOINT_INTERVAL }))),
      },
    ],
    servicePort: [
      {
        trigger: ['blur', 'change'],
        validator: (_r, v: number | null, cb) => {
          if (form().type !== 'inference') return cb()
          if (v === null || v === undefined) return cb(new Error(t('validation.required', { field: t('task.servicePort') })))
          return v >= MIN_SERVICE_PORT && v <= 65535 ? cb() : cb(new Error(t('validation.between', { min: MIN_SERVICE_PORT, max: 65535 })))
        },
      },
    ],
  }
}

/** The API's body: text trimmed, empty env rows left out, the service port only for inference. */
export function bodyOf(form: TaskForm): TaskCreateInput {
  return {
    name: form.name.trim(),
    type: form.type,
    machineId: form.machineId,
    anyMachine: form.anyMachine,
    gpuCount: form.gpuCount ?? 0,
    image: form.image.trim(),
    workDir: form.workDir.trim(),
    scriptPath: form.scriptPath.trim(),
    command: form.command.trim(),
    env: form.env.filter((e) => e.name.trim() || e.value).map((e) => ({ name: e.name.trim(), value: e.value })),
    autoRestart: form.autoRestart,
    maxAttempts: form.autoRestart ? (form.maxAttempts ?? 1) : 1,
    notifyInApp: form.notifyInApp,
    notifyMail: form.notifyMail,
    checkpointIntervalSeconds: form.checkpointIntervalSeconds ?? 0,
    servicePort: form.type === 'inference' ? form.servicePort : null,
    ...(form.datasetMounts.length ? { datasets: form.datasetMounts.map((mountId) => ({ mountId })) } : {}),
  }
}

export interface PlacedErrors {
  fields: Partial<Record<TaskField, string>>
  /** by env row index (of the rows sent) */
  env: Record<number, { name?: string; value?: string }>
  /** some error found its field */
  placed: boolean
}

/**
 * The API's field errors (`data.errors[].location`: `body.gpuCount`,
 * `body.env[1].name`) by the field that shows them. An env row's index is
 * that of the rows sent; `sentRows` maps it back to the form's rows.
 */
export function placeTaskErrors(err: ApiError, sentRows: number[] = []): PlacedErrors {
  const out: PlacedErrors = { fields: {}, env: {}, placed: false }
  const add = (map: Record<string, string | undefined>, key: string, text: string) => {
    map[key] = map[key] ? `${map[key]}; ${text}` : text
  }
  for (const fe of err.fieldErrors) {
    const loc = fe.location.replace(/^body\./, '')
    const text = fieldText(fe)
    const row = /^env(?:\[(\d+)\]|\.(\d+))(?:\.(name|value))?$/.exec(loc)
    if (row) {
      const sent = Number(row[1] ?? row[2])
      const index = sentRows[sent] ?? sent
      out.env[index] ??= {}
      add(out.env[index] as Record<string, string | undefined>, row[3] ?? 'name', text)
      out.placed = true
      continue
    }
    if ((TASK_FIELDS as readonly string[]).includes(loc)) {
      add(out.fields as Record<string, string | undefined>, loc, text)
      out.placed = true
    }
  }
  return out
}

/** The form rows that bodyOf sends, by their index in the body. */
export function sentEnvRows(form: TaskForm): number[] {
  const rows: number[] = []
  form.env.forEach((e, i) => {
    if (e.name.trim() || e.value) rows.push(i)
  })
  return rows
}
