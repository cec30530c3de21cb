import { computed, onBeforeUnmount, ref, shallowRef, watch, type Ref } from 'vue'
import { getMyMachineMonitoring, getMyMachineProcesses, getMyMachineRealtime } from '@/api/monitoring'
import type { GpuProcess, MachineRealtime, MonitoringRange } from '@/api/types'
import { wsCustomerMonitoring, type CustomerFrame } from '@/api/ws'
import { useLiveSocket } from '@/composables/useLiveSocket'
import { createFrameThrottle } from '@/utils/frameThrottle'
import type { SocketLike } from '@/utils/liveSocket'
import { appendRealtime, emptySeries, fromHistory, type MachineSeries } from './series'

export const MACHINE_RANGES: MonitoringRange[] = ['1h', '6h', '24h', '7d']

/**
 * A leased machine's monitoring (3.1.2.2, 3.1.7.1): the history of the
 * chosen range for the charts, then the live figures of its WebSocket
 * appended to it; the processes using its GPUs; the latest figures. When the
 * lease ends the socket closes with 4403 and `leaseEnded` says so.
 */
export function useMachineLive(
  machineId: Readonly<Ref<string | null>>,
  options: { range?: MonitoringRange; createSocket?(url: string): SocketLike } = {},
) {
  const range = ref<MonitoringRange>(options.range ?? '1h')
  const series = shallowRef<MachineSeries>(emptySeries())
  const current = shallowRef<MachineRealtime | null>(null)
  const processes = shallowRef<GpuProcess[]>([])
  const historyLoading = ref(false)
  const loaded = ref(false)
  const notFound = ref(false)
  const leaseEnded = ref(false)
  let seq = 0

  const simulated = computed(() => current.value?.gpuSource === 'simulated')

  function showRealtime(r: MachineRealtime) {
    current.value = r
    processes.value = r.processes ?? []
    const s = series.value
    if (appendRealtime(s, r, range.value)) series.value = { ...s }
  }

  async function loadHistory() {
    const id = machineId.value
    const mine = ++seq
    if (!id) return
    historyLoading.value = true
    try {
      const h = await getMyMachineMonitoring(id, { range: range.value })
      if (mine !== seq) return
      const s = fromHistory(h)
      // a live frame that came before the history still counts
      if (current.value?.machineId === id) appendRealtime(s, current.value, range.value)
      series.value = s
      loaded.value = true
    } catch (e) {
      if (mine === seq && (e as { status?: number }).status === 404) notFound.value = true
    } finally {
      if (mine === seq) historyLoading.value = false
    }
  }

  async function loadNow() {
    const id = machineId.value
    if (!id) return
    try {
      const [r, p] = await Promise.all([getMyMachineRealtime(id), getMyMachineProcesses(id)])
      if (machineId.value !== id) return
      showRealtime(r)
      processes.value = p.list ?? []
    } catch (e) {
      if (machineId.value === id && (e as { status?: number }).status === 404) notFound.value = true
    }
  }

  const throttle = createFrameThrottle<CustomerFrame>(
    (frame) => {
      if (frame.data.machineId === machineId.value) showRealtime(frame.data)
    },
    { intervalMs: 1000 },
  )
  onBeforeUnmount(() => throttle.cancel())

  const live = useLiveSocket<CustomerFrame>({
    path: () => (machineId.value && !notFound.value ? wsCustomerMonitoring(machineId.value) : null),
    onFrame: (frame) => {
      if (frame.type === 'realtime') throttle.push(frame)
    },
    onLeaseEnded: () => {
      leaseEnded.value = true
    },
    createSocket: options.createSocket,
  })

  function reset() {
    throttle.cancel()
    series.value = emptySeries()
    current.value = null
    processes.value = []
    loaded.value = false
    notFound.value = false
    leaseEnded.value = false
  }

  watch(machineId, () => {
    reset()
    void loadHistory()
    void loadNow()
  })
  watch(range, () => void loadHistory())

  void loadHistory()
  void loadNow()

  return { range, series, current, processes, historyLoading, loaded, notFound, leaseEnded, simulated, live, reload: loadHistory }
}
