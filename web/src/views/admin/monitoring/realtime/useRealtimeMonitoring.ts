import { computed, markRaw, onBeforeUnmount, reactive, ref, shallowRef, watch } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { getAdminRealtime } from '@/api/monitoring'
import type { OpenAlertCounts, RealtimeMachine, SortOrder } from '@/api/types'
import { mergeAdminFrames, WS_ADMIN_MONITORING, type AdminFrame } from '@/api/ws'
import { useLiveSocket } from '@/composables/useLiveSocket'
import { createFrameThrottle } from '@/utils/frameThrottle'
import { readListQuery, sameQuery, writeListQuery, type ListDefaults } from '@/utils/query'
import type { SocketLike } from '@/utils/liveSocket'
import { MACHINE_STATUSES } from '../../machines/list/useMachineList'
import { useMachineOptions } from '../../machines/useMachineOptions'
import {
  emptyRealtimeFilters,
  filterMachines,
  heatmapModel,
  REALTIME_SORTS,
  sortMachines,
  summarise,
  type RealtimeFilters,
  type RealtimeSortKey,
} from './realtime'

export interface UseRealtimeOptions {
  /** apply live frames at most this often (ms) */
  throttleMs?: number
  /** test hook */
  createSocket?(url: string): SocketLike
}

/** The whole fleet at once: the API caps a page at 5,000 machines. */
const FLEET_PAGE = 5000

/**
 * The admin's real-time monitoring (2.1.5.1). The fleet's latest figures
 * come once over REST, then from the monitoring WebSocket's snapshots, which
 * are applied at most every `throttleMs` in an animation frame. The snapshot
 * is kept in a shallowRef as a raw array: 8,000 GPU figures are replaced
 * wholesale, never made deeply reactive. Filters and sort are applied here
 * (the snapshot holds every machine) and kept in the URL.
 */
export function useRealtimeMonitoring(options: UseRealtimeOptions = {}) {
  const route = useRoute()
  const router = useRouter()
  const path = route.path

  const defaults: ListDefaults<RealtimeFilters> = {
    filters: emptyRealtimeFilters(),
    pageSize: 20,
    sortBy: 'name',
    order: 'asc',
    sortKeys: REALTIME_SORTS,
    enums: { status: ['', ...MACHINE_STATUSES] },
  }
  const initial = readListQuery(route.query, defaults)
  const filters = reactive({ ...initial.filters }) as RealtimeFilters
  const sort = reactive<{ sortBy: RealtimeSortKey; order: SortOrder }>({
    sortBy: initial.sortBy as RealtimeSortKey,
    order: initial.order ?? 'asc',
  })

  watch(
    () => route.query,
    (query) => {
      if (route.path !== path) return
      const state = readListQuery(query, defaults)
      Object.assign(filters, state.filters)
      sort.sortBy = state.sortBy as RealtimeSortKey
      sort.order = state.order ?? 'asc'
    },
  )

  /** Put filters and sort into the URL (a reload or a shared link shows the same view). */
  function commit() {
    const query = writeListQuery({ filters: { ...filters }, page: 1, pageSize: 20, sortBy: sort.sortBy, order: sort.order }, defaults)
    if (sameQuery(query, route.query)) return
    void router.replace({ path, query, hash: route.hash })
  }

  function reset() {
    Object.assign(filters, emptyRealtimeFilters())
    commit()
  }

  function setSort(sortBy: RealtimeSortKey, order: SortOrder) {
    sort.sortBy = sortBy
    sort.order = order
    commit()
  }

  const machines = shallowRef<readonly RealtimeMachine[]>(markRaw([]))
  const openAlerts = shallowRef<OpenAlertCounts | null>(null)
  /** when the figures on screen were taken (the frame's time, or the REST answer's) */
  const updatedAt = ref<string | null>(null)
  const loading = ref(false)
  const loaded = ref(false)
  /** live frames applied */
  const applied = ref(0)

  function show(list: readonly RealtimeMachine[], at: string) {
    machines.value = markRaw(list as RealtimeMachine[])
    updatedAt.value = at
    loaded.value = true
  }

  async function load() {
    loading.value = true
    try {
      const page = await getAdminRealtime({ page: 1, pageSize: FLEET_PAGE })
      // a live frame may have been faster
      if (!applied.value) show(page.list ?? [], new Date().toISOString())
    } catch {
      // reported by the HTTP layer; the socket may still bring the figures
    } finally {
      loading.value = false
    }
  }

  const throttle = createFrameThrottle<AdminFrame>(
    (frame) => {
      show(frame.machines ?? [], frame.at)
      openAlerts.value = frame.openAlerts
      applied.value++
    },
    { intervalMs: options.throttleMs ?? 1500, merge: mergeAdminFrames },
  )
  onBeforeUnmount(() => throttle.cancel())

  const live = useLiveSocket<AdminFrame>({
    path: WS_ADMIN_MONITORING,
    onFrame: (frame) => throttle.push(frame),
    createSocket: options.createSocket,
  })

  const filtered = computed(() => filterMachines(machines.value, filters))
  /** the table's rows */
  const rows = computed(() => sortMachines(filtered.value, sort.sortBy, sort.order))
  /** the heat map keeps the API's order (by name), so that cells do not jump as figures change */
  const heatmap = computed(() => heatmapModel(filtered.value))
  const summary = computed(() => summarise(machines.value))

  const { options: machineOptions, regionName } = useMachineOptions()

  void load()

  return {
    filters,
    sort,
    commit,
    reset,
    setSort,
    machines,
    rows,
    heatmap,
    summary,
    openAlerts,
    updatedAt,
    loading,
    loaded,
    applied,
    live,
    machineOptions,
    regionName,
    load,
  }
}
