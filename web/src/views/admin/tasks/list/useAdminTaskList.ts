import { computed, reactive, ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import { listAdminTasks, stopAdminTask, type AdminTaskListParams, type Task, type TaskStatus, type TaskType } from '@/api/tasks'
import { useQueryTable } from '@/composables/useQueryTable'
import { usePolling } from '@/composables/usePolling'
import { isActive } from '@/components/tasks/taskStatus'
import { promptReason } from '@/utils/confirm'

/**
 * The tabs of 2.1.8.1 by status: 运行中 is queued and running (the API's
 * view=running), 已完成 succeeded, 失败 failed, 异常 stopped (ended before
 * it finished: by its customer, an admin or the end of the lease).
 */
export type AdminTaskTab = 'all' | 'running' | 'finished' | 'failed' | 'abnormal'
export const ADMIN_TASK_TABS: AdminTaskTab[] = ['all', 'running', 'finished', 'failed', 'abnormal']
export const TAB_STATUS: Record<AdminTaskTab, TaskStatus[]> = {
  all: [],
  running: ['queued', 'running'],
  finished: ['succeeded'],
  failed: ['failed'],
  abnormal: ['stopped'],
}
export const TASK_TYPES: TaskType[] = ['training', 'inference']

export interface AdminTaskFilters {
  [key: string]: string
  tab: AdminTaskTab
  tenantId: string
  machineId: string
  type: '' | TaskType
  from: string
  to: string
}

export function adminParams(f: AdminTaskFilters): AdminTaskListParams {
  const status = TAB_STATUS[f.tab] ?? []
  return {
    status: status.length ? status.join(',') : undefined,
    tenantId: f.tenantId || undefined,
    machineId: f.machineId || undefined,
    type: f.type || undefined,
    from: f.from || undefined,
    to: f.to || undefined,
  }
}

export function useAdminTaskList() {
  const { t } = useI18n()
  const table = useQueryTable<Task, AdminTaskFilters>((page, f) => listAdminTasks({ ...page, ...adminParams(f) }), {
    filters: { tab: 'all', tenantId: '', machineId: '', type: '', from: '', to: '' },
    enums: { tab: ADMIN_TASK_TABS, type: ['', ...TASK_TYPES] },
  })
  const { filters } = table

  /** The time range picker's value (created between). */
  const range = computed<[string, string] | null>({
    get: (): [string, string] | null => (filters.from && filters.to ? [filters.from, filters.to] : null),
    set: (v: [string, string] | null) => {
      filters.from = v?.[0] ?? ''
      filters.to = v?.[1] ?? ''
    },
  })

  function switchTab(tab: AdminTaskTab) {
    if (tab === filters.tab) return
    filters.tab = tab
    return table.search()
  }

  const anyActive = computed(() => table.list.value.some((task) => isActive(task.status)))
  usePolling(() => table.load(), { intervalMs: 10_000, active: () => anyActive.value })

  /** The drawer: which task, on which tab. */
  const drawer = reactive<{ visible: boolean; id: string; tab: 'info' | 'logs' }>({ visible: false, id: '', tab: 'info' })
  function open(task: Task, tab: 'info' | 'logs' = 'info') {
    Object.assign(drawer, { visible: true, id: task.id, tab })
  }

  const stopping = ref('')
  async function stop(task: Pick<Task, 'id' | 'name' | 'tenantName'>) {
    const reason = await promptReason(t('task.admin.stopConfirm', { name: task.name, customer: task.tenantName || '—' }), {
      title: t('task.actions.stop'),
      danger: true,
      confirmText: t('task.actions.stop'),
      placeholder: t('task.admin.stopReasonPlaceholder'),
    })
    if (reason === null) return
    stopping.value = task.id
    try {
      await stopAdminTask(task.id, reason)
      ElMessage.success(t('task.admin.stopped'))
      await table.load()
    } catch {
      // the HTTP layer has said why
    } finally {
      stopping.value = ''
    }
  }

  return { ...table, range, switchTab, drawer, open, stop, stopping }
}
