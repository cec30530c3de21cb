import { computed, ref, shallowRef } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { listAvailableMachines, listTasks, type AvailableMachine, type Task, type TaskListParams, type TaskStatus } from '@/api/tasks'
import { useQueryTable } from '@/composables/useQueryTable'
import { usePolling } from '@/composables/usePolling'
import { ENDED_STATUSES, isActive, TASK_STATUSES } from '@/components/tasks/taskStatus'
import { useTaskActions } from '@/components/tasks/useTaskActions'

/** The four tabs of 3.1.3.1; each has its own path (and sidebar entry). */
export type TaskTab = 'training' | 'inference' | 'queue' | 'history'
export const TASK_TABS: TaskTab[] = ['training', 'inference', 'queue', 'history']
export const TASK_TAB_PATHS: Record<TaskTab, string> = {
  training: '/customer/tasks/list',
  inference: '/customer/tasks/inference',
  queue: '/customer/tasks/queue',
  history: '/customer/tasks/history',
}

export function tabOfPath(path: string): TaskTab {
  return TASK_TABS.find((tab) => TASK_TAB_PATHS[tab] === path) ?? 'training'
}

/** The statuses a tab's status filter offers (the queue holds queued tasks only). */
export const TAB_STATUSES: Record<TaskTab, TaskStatus[]> = {
  training: TASK_STATUSES,
  inference: TASK_STATUSES,
  queue: [],
  history: ENDED_STATUSES,
}

export interface TaskFilters {
  [key: string]: string
  machineId: string
  status: string
  q: string
}

/** The API's parameters of a tab and its filters. */
export function tabParams(tab: TaskTab, f: TaskFilters): TaskListParams {
  const status = f.status && TAB_STATUSES[tab].includes(f.status as TaskStatus) ? f.status : ''
  const common = { machineId: f.machineId || undefined, q: f.q.trim() || undefined }
  switch (tab) {
    case 'training':
    case 'inference':
      return { ...common, type: tab, status: status || undefined }
    case 'queue':
      return { ...common, tab: 'queue', status: 'queued' }
    case 'history':
      return { ...common, status: status || ENDED_STATUSES.join(',') }
  }
}

/** Consecutive tasks of one machine (the queue tab lists them by machine and position). */
export function groupByMachine(tasks: Task[]): { machineId: string; machineName: string; tasks: Task[] }[] {
  const groups: { machineId: string; machineName: string; tasks: Task[] }[] = []
  for (const task of tasks) {
    const last = groups[groups.length - 1]
    if (last && last.machineId === task.machineId) last.tasks.push(task)
    else groups.push({ machineId: task.machineId, machineName: task.machineName, tasks: [task] })
  }
  return groups
}

/** The list refreshes this often while any task on it is queued or running. */
export const POLL_MS = 5000

export function useTaskList() {
  const route = useRoute()
  const router = useRouter()
  const tab = tabOfPath(route.path)
  const loadError = shallowRef<unknown>(null)
  const loaded = ref(false)
  let polling = false

  const table = useQueryTable<Task, TaskFilters>(
    async (page, f) => {
      try {
        const result = await listTasks({ ...page, ...tabParams(tab, f) }, polling && loaded.value)
        loadError.value = null
        loaded.value = true
        return result
      } catch (e) {
        // a failed refresh keeps the cards and says nothing (the next one may work); a failed load shows the error
        if (!polling || !loaded.value) loadError.value = e
        throw e
      }
    },
    {
      filters: { machineId: '', status: '', q: '' },
      pageSize: 12,
      pageSizes: [12, 24, 48],
    },
  )

  const machines = shallowRef<AvailableMachine[]>([])
  void listAvailableMachines()
    .then((list) => (machines.value = list))
    .catch(() => undefined)

  const anyActive = computed(() => table.list.value.some((task) => isActive(task.status)))
  usePolling(
    async () => {
      polling = true
      try {
        await table.load()
      } finally {
        polling = false
      }
    },
    { intervalMs: POLL_MS, active: () => anyActive.value },
  )

  /** Another tab: its own path, keeping the machine and the name search. */
  function switchTab(next: TaskTab) {
    if (next === tab) return
    const keep: Record<string, string> = {}
    if (table.filters.machineId) keep.machineId = table.filters.machineId
    if (table.filters.q.trim()) keep.q = table.filters.q.trim()
    return router.push({ path: TASK_TAB_PATHS[next], query: keep })
  }

  const actions = useTaskActions(() => table.load())
  const groups = computed(() => groupByMachine(table.list.value))
  const filtered = computed(() => !!(table.filters.machineId || table.filters.status || table.filters.q))

  return { ...table, tab, loadError, loaded, machines, groups, filtered, switchTab, actions, statuses: TAB_STATUSES[tab] }
}
