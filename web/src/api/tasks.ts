// Training and inference tasks (requirements 3.1.3, 2.1.8; docs/tasks.md).
//
// The types mirror the contract of docs/tasks.md until the task operations
// are in openapi.yaml; then they become names of schema.d.ts's types (as
// types.ts does for the other resources) and only the WebSocket frames stay
// written here, like ws.ts.
import { cleanParams, http } from './http'
import type { PageParams, PageResult } from './types'

/* ---------- shapes ---------- */

/** As 4.5.4. */
export type TaskStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'stopped'
export type TaskType = 'training' | 'inference'
export type GpuSource = 'nvml' | 'simulated'

/** A task as lists show it (GET /api/customer/tasks, /api/admin/tasks). */
export interface Task {
  id: string
  name: string
  type: TaskType
  status: TaskStatus
  /** a code, `tasks.reason.*`; '' when there is none */
  statusReason: string
  /** the figures of statusReason */
  statusParams?: Record<string, unknown> | null
  /** the machine of the current or last attempt */
  machineId: string
  machineName: string
  tenantId: string
  /** admin lists only */
  tenantName?: string
  gpuCount: number
  /** the granted GPU indices of the current attempt */
  gpus: number[] | null
  image: string
  attempt: number
  maxAttempts: number
  /** queued only: 1 is next on its machine */
  queuePosition?: number | null
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  durationSeconds: number
  /** running only: the latest average utilisation of its GPUs, % */
  gpuUtil?: number | null
  exitCode?: number | null
  /** inference tasks */
  serviceUrl?: string
}

export interface TaskEnvVar {
  name: string
  value: string
}

/** One try of a task: a container on a machine. */
export interface TaskAttempt {
  attempt: number
  machineId: string
  machineName?: string
  gpus: number[] | null
  queuedAt: string | null
  startedAt: string | null
  finishedAt: string | null
  exitCode: number | null
  /** `tasks.reason.*`, '' while it runs */
  reason: string
  params?: Record<string, unknown> | null
  container?: string
  /** the container got the GPUs as devices; false with simulated GPUs; null before it started */
  gpuDevices?: boolean | null
  logLines?: number
  durationSeconds: number
}

export type ServiceHealth = 'healthy' | 'unhealthy' | 'unknown'

/** GET /api/customer/tasks/:id/details (and the admin's GET /api/admin/tasks/:id). */
export interface TaskDetails extends Task {
  anyMachine: boolean
  workDir: string
  scriptPath: string
  command: string
  env: TaskEnvVar[] | null
  autoRestart: boolean
  notifyInApp: boolean
  notifyMail: boolean
  checkpointIntervalSeconds: number
  servicePort: number | null
  attempts: TaskAttempt[] | null
  /** the first attempt of the current run (a re-run starts a new one) */
  firstAttempt?: number
  createdByName?: string
  /** the host's GPU source is simulated: no device was given to the container */
  gpuSimulated: boolean
  /** inference tasks: whether the service answers */
  serviceHealth?: ServiceHealth
}

/** POST /api/customer/tasks/training */
export interface TaskCreateInput {
  name: string
  type: TaskType
  machineId: string
  anyMachine: boolean
  gpuCount: number
  image: string
  workDir: string
  scriptPath: string
  command: string
  env: TaskEnvVar[]
  autoRestart: boolean
  maxAttempts: number
  notifyInApp: boolean
  notifyMail: boolean
  checkpointIntervalSeconds: number
  servicePort: number | null
}

export interface TaskListParams extends PageParams {
  type?: TaskType
  /** a comma list */
  status?: string
  machineId?: string
  /** name */
  q?: string
  /** created, RFC 3339 */
  from?: string
  to?: string
  /** queue: ordered by machine and queue position */
  tab?: 'queue'
}

export interface AdminTaskListParams extends Omit<TaskListParams, 'tab'> {
  tenantId?: string
}

/** A machine leased to the caller's customer, as the create form offers it. */
export interface AvailableMachine {
  id: string
  name: string
  gpuModel: string
  gpuCount: number
  freeGpus: number
  queuedTasks: number
  gpuSource: GpuSource
  status?: string
}

/** An image present on a host. */
export interface TaskImage {
  ref: string
  id?: string
  size?: number
  created?: string
}

/** A log line: n (its number in the attempt's log, from 1), t (time), s (stream), x (text). */
export interface TaskLogLine {
  n: number
  t: string
  s: 'stdout' | 'stderr'
  x: string
}

export interface TaskLogParams {
  attempt?: number
  /** substring, searched on the server */
  q?: string
  /** lines after this n */
  afterN?: number
  /** at most 5000 */
  limit?: number
}

export interface TaskLogPage {
  attempt: number
  lines: TaskLogLine[] | null
}

export interface TaskGpuPoint {
  at: string
  util: number
  memUsedMib: number
  memTotalMib: number
}

/** The task's own GPUs over its run time. */
export interface TaskMetrics {
  from: string
  to: string
  stepSeconds: number
  gpus: { index: number; points: TaskGpuPoint[] | null }[] | null
}

export interface TaskOutputFile {
  /** relative to the output directory */
  path: string
  size: number
  modTime: string
  dir?: boolean
}

export interface TaskOutputs {
  files: TaskOutputFile[] | null
  /** more entries than the agent lists at once */
  truncated?: boolean
}

/** /ws/customer/tasks/:id/logs frames. */
export type TaskLogFrame =
  | { type: 'lines'; attempt: number; lines: TaskLogLine[] | null }
  | { type: 'status'; status: TaskStatus }

/* ---------- customer ---------- */

const base = '/api/customer/tasks'

/** `quiet`: a background refresh, whose failure is not toasted. */
export const listTasks = (params: TaskListParams, quiet = false) =>
  http.get<PageResult<Task>>(base, { params: cleanParams(params), silent: quiet })

export interface TaskCounts {
  running: number
  queued: number
}

/** How many of the caller's tasks run and wait (the dashboard's card): the totals of two one-row pages. */
export async function countTasks(): Promise<TaskCounts> {
  const [running, queued] = await Promise.all([
    listTasks({ status: 'running', page: 1, pageSize: 1 }, true),
    listTasks({ status: 'queued', page: 1, pageSize: 1 }, true),
  ])
  return { running: running.total ?? 0, queued: queued.total ?? 0 }
}

/** The latest 10 (the dashboard's 最近任务). */
export const recentTasks = () => http.get<Task[] | null>(`${base}/recent`)

export const getTask = (id: string) => http.get<Task>(`${base}/${id}`)

/** 404 is the page's to show. */
export const getTaskDetails = (id: string) => http.get<TaskDetails>(`${base}/${id}/details`, { silent: [404] })

/** 400 (field errors) and 409 are shown on the form. */
export const createTask = (input: TaskCreateInput) => http.post<Task>(`${base}/training`, input, { silent: [400, 409] })

/** 202; 409 tasks.notStoppable when it has already ended (toasted). */
export const stopTask = (id: string) => http.post<Task | undefined>(`${base}/${id}/stop`)

/** A new attempt of the same task; 409 tasks.notFinished while it is queued or running. */
export const restartTask = (id: string) => http.post<Task | undefined>(`${base}/${id}/restart`)

/** 409 tasks.running unless it has ended; logs, attempts and outputs go with it. */
export const deleteTask = (id: string) => http.delete<unknown>(`${base}/${id}`)

export const getTaskLogs = (id: string, params: TaskLogParams) =>
  http.get<TaskLogPage>(`${base}/${id}/logs`, { params: cleanParams(params) })

/** The whole log of an attempt as text/plain. */
export const downloadTaskLogs = (id: string, attempt?: number) =>
  http.blob(`${base}/${id}/logs`, { params: cleanParams({ format: 'text', attempt }) })

export const getTaskMetrics = (id: string) => http.get<TaskMetrics>(`${base}/${id}/metrics`)

/** 503 tasks.hostUnreachable when the agent does not answer: the page says so itself. */
export const listTaskOutputs = (id: string, dir: string) =>
  http.get<TaskOutputs>(`${base}/${id}/outputs`, { params: cleanParams({ dir }), silent: [503] })

/** The tasks of one leased machine (its 任务历史). */
export const listMachineTasks = (machineId: string, params: PageParams) =>
  http.get<PageResult<Task>>(`/api/customer/machines/${machineId}/tasks`, { params: cleanParams(params) })

/** The list is the data itself or a page of it. */
function listOf<T>(data: T[] | { list: T[] | null } | null | undefined): T[] {
  if (Array.isArray(data)) return data
  return data?.list ?? []
}

export const listAvailableMachines = async () =>
  listOf(await http.get<AvailableMachine[] | { list: AvailableMachine[] | null } | null>('/api/customer/machines/available'))

/** The images present on the machine's host. */
export const listTaskImages = async (machineId: string) =>
  listOf(await http.get<TaskImage[] | { list: TaskImage[] | null } | null>('/api/customer/images', { params: { machineId } }))

/** The live log of a task: the backlog after `afterN`, then each line as it comes. */
export function wsTaskLogs(id: string, params: { attempt?: number; afterN?: number } = {}): string {
  const q = new URLSearchParams()
  if (params.attempt) q.set('attempt', String(params.attempt))
  if (params.afterN) q.set('afterN', String(params.afterN))
  const s = q.toString()
  return `/ws/customer/tasks/${encodeURIComponent(id)}/logs${s ? `?${s}` : ''}`
}

/* ---------- admin ---------- */

const admin = '/api/admin/tasks'

export const listAdminTasks = (params: AdminTaskListParams) =>
  http.get<PageResult<Task>>(admin, { params: cleanParams(params) })

export const getAdminTask = (id: string) => http.get<TaskDetails>(`${admin}/${id}`)

export const getAdminTaskLogs = (id: string, params: TaskLogParams) =>
  http.get<TaskLogPage>(`${admin}/${id}/logs`, { params: cleanParams(params) })

export const downloadAdminTaskLogs = (id: string, attempt?: number) =>
  http.blob(`${admin}/${id}/logs`, { params: cleanParams({ format: 'text', attempt }) })

/** Audited; the customer is notified with the reason. */
export const stopAdminTask = (id: string, reason: string) => http.post<Task | undefined>(`${admin}/${id}/stop`, { reason })
