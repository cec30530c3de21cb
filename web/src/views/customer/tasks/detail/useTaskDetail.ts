import { computed, ref, shallowRef } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { isApiError } from '@/api/http'
import { downloadTaskLogs, getTaskDetails, getTaskLogs, wsTaskLogs, type TaskDetails, type TaskStatus } from '@/api/tasks'
import { usePolling } from '@/composables/usePolling'
import { isActive } from '@/components/tasks/taskStatus'
import { useTaskActions } from '@/components/tasks/useTaskActions'
import { useTaskLogs } from '@/components/tasks/useTaskLogs'
import type { SocketLike } from '@/utils/liveSocket'

export type DetailTab = 'logs' | 'metrics' | 'outputs' | 'attempts'
export const DETAIL_TABS: DetailTab[] = ['logs', 'metrics', 'outputs', 'attempts']

/** A task's page (3.1.3.3): what it is, its live log, its GPUs' figures, its outputs, its attempts. */
export function useTaskDetail(options: { createSocket?(url: string): SocketLike } = {}) {
  const route = useRoute()
  const router = useRouter()
  const id = String(route.params.id)
  const task = shallowRef<TaskDetails | null>(null)
  const loading = ref(false)
  const notFound = ref(false)
  const loadFailed = ref(false)
  const wanted = typeof route.query.tab === 'string' ? (route.query.tab as DetailTab) : 'logs'
  const tab = ref<DetailTab>(DETAIL_TABS.includes(wanted) ? wanted : 'logs')

  const status = computed<TaskStatus | null>(() => task.value?.status ?? null)
  const latestAttempt = computed(() => task.value?.attempt ?? 0)
  let seq = 0

  async function load() {
    const mine = ++seq
    loading.value = true
    try {
      const t = await getTaskDetails(id)
      if (mine !== seq) return
      task.value = t
      notFound.value = false
      loadFailed.value = false
    } catch (e) {
      if (mine !== seq) return
      notFound.value = isApiError(e) && e.status === 404
      loadFailed.value = !notFound.value && !task.value
      // deleted (or never the caller's): nothing more to follow
      if (notFound.value) logs.stop()
    } finally {
      if (mine === seq) loading.value = false
    }
  }

  const logs = useTaskLogs({
    source: {
      page: (params) => getTaskLogs(id, params),
      download: (attempt) => downloadTaskLogs(id, attempt),
      socketPath: (params) => wsTaskLogs(id, params),
    },
    status,
    latestAttempt,
    fileName: () => task.value?.name || id,
    // the status moved on (started, restarted, ended): the page shows it at once
    onStatus: (s) => {
      if (s !== task.value?.status) void load()
    },
    onNewAttempt: () => void load(),
    // deleted meanwhile: the page says so
    onGone: () => void load(),
    createSocket: options.createSocket,
  })

  // the status, the queue position and the attempts move while it is queued or running
  usePolling(load, { intervalMs: 5000, active: () => isActive(status.value) })

  const actions = useTaskActions(async (action) => {
    if (action === 'delete') return void router.push('/customer/tasks/list')
    if (action === 'restart') logs.pickAttempt(null)
    await load()
  })

  /** The log of another attempt (from the attempts table). */
  function showAttemptLogs(n: number) {
    logs.pickAttempt(n)
    tab.value = 'logs'
  }

  return { id, task, loading, notFound, loadFailed, tab, status, logs, actions, load, showAttemptLogs }
}
