import { onBeforeUnmount, ref, shallowRef, watch } from 'vue'
import { listActiveAlerts } from '@/api/alerts'
import { recentAllocations } from '@/api/allocations'
import { getAdminDashboardStats, getGpuTrend } from '@/api/dashboard'
import type { Alert, Allocation, FleetStats, GpuTrend, MonitoringRange, OpenAlertCounts } from '@/api/types'
import { mergeAdminFrames, WS_ADMIN_MONITORING, type AdminFrame } from '@/api/ws'
import { useLiveSocket } from '@/composables/useLiveSocket'
import { createFrameThrottle } from '@/utils/frameThrottle'
import type { SocketLike } from '@/utils/liveSocket'
import { summarise } from '../monitoring/realtime/realtime'

export const TREND_RANGES: MonitoringRange[] = ['1h', '24h', '7d', '30d']
/** alerts shown in the alert centre */
export const ALERT_CENTRE_SIZE = 8

const sameCounts = (a: OpenAlertCounts | null, b: OpenAlertCounts) =>
  !!a && a.total === b.total && a.critical === b.critical && a.warning === b.warning && a.info === b.info

export function useAdminDashboard(options: { createSocket?(url: string): SocketLike } = {}) {
  const stats = shallowRef<FleetStats | null>(null)
  const recent = shallowRef<Allocation[]>([])
  const statsLoading = ref(false)
  const recentLoading = ref(false)

  async function loadStats() {
    statsLoading.value = true
    try {
      stats.value = await getAdminDashboardStats()
    } catch {
      // reported by the HTTP layer
    } finally {
      statsLoading.value = false
    }
  }

  async function loadRecent() {
    recentLoading.value = true
    try {
      recent.value = (await recentAllocations()) ?? []
    } catch {
      // reported by the HTTP layer
    } finally {
      recentLoading.value = false
    }
  }

  // GPU utilisation trend (ECharts line), for the range chosen
  const trendRange = ref<MonitoringRange>('24h')
  const trend = shallowRef<GpuTrend | null>(null)
  const trendLoading = ref(false)
  let trendSeq = 0
  async function loadTrend() {
    const mine = ++trendSeq
    trendLoading.value = true
    try {
      const result = await getGpuTrend({ range: trendRange.value })
      if (mine === trendSeq) trend.value = result
    } catch {
      // reported by the HTTP layer
    } finally {
      if (mine === trendSeq) trendLoading.value = false
    }
  }
  watch(trendRange, () => void loadTrend())

  // the live alert centre: open alerts, most severe and newest first
  const alerts = shallowRef<Alert[]>([])
  const alertCounts = shallowRef<OpenAlertCounts | null>(null)
  const alertsLoading = ref(false)
  const alertsLoaded = ref(false)
  async function loadAlerts() {
    alertsLoading.value = true
    try {
      const result = await listActiveAlerts(ALERT_CENTRE_SIZE)
      alerts.value = result.list ?? []
      alertCounts.value = result.counts
      alertsLoaded.value = true
    } catch {
      // reported by the HTTP layer
    } finally {
      alertsLoading.value = false
    }
  }

  /** machines whose GPU figures are simulated (from the live snapshots) */
  const simulated = ref(0)

  // The monitoring socket keeps the cards and the alert centre current: the
  // online/offline counts and the average utilisation come from each
  // snapshot, the alert list is asked again when alerts changed.
  const throttle = createFrameThrottle<AdminFrame>(
    (frame) => {
      const s = summarise(frame.machines ?? [])
      simulated.value = s.simulated
      if (stats.value) {
        stats.value = {
          ...stats.value,
          online: s.online,
          offline: s.offline,
          maintenance: s.maintenance,
          avgGpuUtil: s.avgGpuUtil ?? 0,
        }
      }
      if ((frame.alerts?.length ?? 0) > 0 || !sameCounts(alertCounts.value, frame.openAlerts)) void loadAlerts()
    },
    { intervalMs: 2000, merge: mergeAdminFrames },
  )
  onBeforeUnmount(() => throttle.cancel())
  const live = useLiveSocket<AdminFrame>({
    path: WS_ADMIN_MONITORING,
    onFrame: (f) => throttle.push(f),
    createSocket: options.createSocket,
  })

  function load() {
    void loadStats()
    void loadRecent()
    void loadTrend()
    void loadAlerts()
  }

  return {
    stats,
    recent,
    statsLoading,
    recentLoading,
    trendRange,
    trend,
    trendLoading,
    alerts,
    alertCounts,
    alertsLoading,
    alertsLoaded,
    loadAlerts,
    simulated,
    live,
    load,
  }
}
