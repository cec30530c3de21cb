// Training and inference tasks (requirements 3.1.3, 2.1.8; docs/tasks.md).
// The shapes are the generated schema's (types.ts names them); the live log
// socket is a chi route, not a Huma operation, so its frames are typed here.
import { cleanParams, http } from './http'
import type {
  AdminTaskListParams,
  AvailableMachine,
  PageParams,
  PageResult,
  Task,
  TaskCreateInput,
  TaskDetails,
  TaskImage,
  TaskListParams,
  TaskLogLine,
  TaskLogPage,
  TaskLogParams,
  TaskMetrics,
  TaskOutputs,
  TaskStatus,
} from './types'

export type {
  AdminTaskListParams,
  AvailableMachine,
  GpuSource,
  Task,
  TaskAttempt,
  TaskCounts,
  TaskCreateInput,
  TaskDetails,
  TaskEnvVar,
  TaskImage,
  TaskListParams,
  TaskLogLine,
  TaskLogPage,
  TaskLogParams,
  TaskMetrics,
  TaskOutputFile,
  TaskOutputs,
  TaskStatus,
  TaskType,
} from './types'

/**
 * /ws/customer/tasks/:id/logs frames. `attempt` of a status frame is the
 * task's current one; the socket moves on to each new attempt from its
 * first line.
 */
export type TaskLogFrame =
  | { type: 'lines'; attempt: number; lines: TaskLogLine[] | null }
  | { type: 'status'; attempt: number; status: TaskStatus }

/* ---------- customer ---------- */

const base = '/api/customer/tasks'

/** `quiet`: a background refresh, whose failure is not toasted. */
export const listTasks = (params: TaskListParams, quiet = false) =>
  http.get<PageResult<Task>>(base, { params: cleanParams(params), silent: quiet })

/** The latest 10 (the dashboard's 最近任务). */
export const recentTasks = () => http.get<Task[] | null>(`${base}/recent`)

export const getTask = (id: string) => http.get<Task>(`${base}/${id}`)

/** 404 is the page's to show. */
export const getTaskDetails = (id: string) => http.get<TaskDetails>(`${base}/${id}/details`, { silent: [404] })

/** 400 (field errors) and 409 are shown on the form. */
export const createTask = (input: TaskCreateInput) => http.post<Task>(`${base}/training`, input, { silent: [400, 409] })

/** 202 with the task as it is then; 409 tasks.notStoppable when it has already ended (toasted). */
export const stopTask = (id: string) => http.post<Task>(`${base}/${id}/stop`)

/** The task queued as its next attempt; 409 tasks.notFinished while it is queued or running. */
export const restartTask = (id: string) => http.post<Task>(`${base}/${id}/restart`)

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

/**
 * One output file, uploaded by the host's agent on request (up to 60 s);
 * silent: the outputs list shows the error by its code itself.
 */
export const downloadTaskOutput = (id: string, path: string) =>
  http.blob(`${base}/${id}/outputs/download`, { params: { path }, silent: true, timeout: 120_000 })

/** The tasks of one leased machine (its 任务历史). */
export const listMachineTasks = (machineId: string, params: PageParams) =>
  http.get<PageResult<Task>>(`/api/customer/machines/${machineId}/tasks`, { params: cleanParams(params) })

/** The machines leased to the caller's company, with their free GPUs and queues. */
export const listAvailableMachines = async () => (await http.get<AvailableMachine[] | null>('/api/customer/machines/available')) ?? []

/** The images present on the machine's host. */
export const listTaskImages = async (machineId: string) =>
  (await http.get<TaskImage[] | null>('/api/customer/images', { params: { machineId } })) ?? []

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
export const stopAdminTask = (id: string, reason: string) => http.post<Task>(`${admin}/${id}/stop`, { reason })
