// The admin's real-time view of the fleet as plain functions over the latest
// snapshot: filters, sort, the heat map's cells and the summary. They run on
// every applied frame (1,000 machines × 8 GPUs), so they allocate little and
// never touch Vue's reactivity.
import type { MachineStatus, RealtimeMachine, SortOrder } from '@/api/types'

export interface RealtimeFilters {
  [key: string]: string | boolean
  region: string
  status: '' | MachineStatus
  keyword: string
  /** only machines with open alerts */
  onlyAlerts: boolean
}

export const emptyRealtimeFilters = (): RealtimeFilters => ({ region: '', status: '', keyword: '', onlyAlerts: false })

export const REALTIME_SORTS = ['name', 'region', 'status', 'gpuUtil', 'cpu', 'mem', 'disk', 'temp', 'power', 'alerts'] as const
export type RealtimeSortKey = (typeof REALTIME_SORTS)[number]

const sortValue: Record<RealtimeSortKey, (m: RealtimeMachine) => number | string | null> = {
  name: (m) => m.name,
  region: (m) => m.region,
  status: (m) => m.status,
  gpuUtil: (m) => m.gpuUtil,
  cpu: (m) => m.cpuPct,
  mem: (m) => m.memPct,
  disk: (m) => m.diskPct,
  temp: (m) => m.gpuTemp,
  power: (m) => m.gpuPowerW,
  alerts: (m) => m.openAlerts,
}

export function filterMachines(list: readonly RealtimeMachine[], f: RealtimeFilters): RealtimeMachine[] {
  const keyword = f.keyword.trim().toLowerCase()
  if (!f.region && !f.status && !keyword && !f.onlyAlerts) return list.slice()
  return list.filter(
    (m) =>
      (!f.region || m.region === f.region) &&
      (!f.status || m.status === f.status) &&
      (!keyword || m.name.toLowerCase().includes(keyword)) &&
      (!f.onlyAlerts || m.openAlerts > 0),
  )
}

/** Sorted by one column; machines without a figure (not reporting) always last, ties by name. */
export function sortMachines(list: readonly RealtimeMachine[], sortBy: RealtimeSortKey, order: SortOrder = 'asc'): RealtimeMachine[] {
  const value = sortValue[sortBy] ?? sortValue.name
  const dir = order === 'desc' ? -1 : 1
  return list.slice().sort((a, b) => {
    const va = value(a)
    const vb = value(b)
    if (va === null || va === undefined) return vb === null || vb === undefined ? a.name.localeCompare(b.name) : 1
    if (vb === null || vb === undefined) return -1
    const c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb))
    return c !== 0 ? c * dir : a.name.localeCompare(b.name)
  })
}

export interface FleetSummary {
  machines: number
  online: number
  offline: number
  maintenance: number
  /** GPUs of the online machines that report */
  gpus: number
  /** average over those GPUs, %; null when none reports */
  avgGpuUtil: number | null
  /** machines with open alerts */
  alerting: number
  /** machines whose GPU figures are simulated */
  simulated: number
}

export function summarise(list: readonly RealtimeMachine[]): FleetSummary {
  const s: FleetSummary = { machines: list.length, online: 0, offline: 0, maintenance: 0, gpus: 0, avgGpuUtil: null, alerting: 0, simulated: 0 }
  let sum = 0
  for (const m of list) {
    s[m.status]++
    if (m.openAlerts > 0) s.alerting++
    if (m.gpuSource === 'simulated') s.simulated++
    if (m.status !== 'online' || !m.gpus) continue
    for (const g of m.gpus) {
      sum += g.utilization
      s.gpus++
    }
  }
  if (s.gpus) s.avgGpuUtil = Math.round((sum / s.gpus) * 10) / 10
  return s
}

/** The heat map's value of a GPU that does not report (machine offline, in maintenance, or GPU missing): drawn grey. */
export const NO_DATA = -1

/** One cell: [machine column, GPU row, utilisation or NO_DATA]. */
export type HeatCell = [number, number, number]

export interface HeatmapModel {
  /** the columns, in order */
  machines: readonly RealtimeMachine[]
  /** GPU rows: the most GPUs any machine has (declared or reported) */
  rows: number
  cells: HeatCell[]
}

/** The heat map of every GPU: one column per machine, one row per GPU index. */
export function heatmapModel(list: readonly RealtimeMachine[], maxRows = 16): HeatmapModel {
  let rows = 1
  for (const m of list) rows = Math.max(rows, m.gpuCount, m.gpus?.length ?? 0)
  rows = Math.min(rows, maxRows)
  const cells: HeatCell[] = []
  list.forEach((m, x) => {
    const live = m.status === 'online'
    const n = Math.min(maxRows, Math.max(m.gpuCount, m.gpus?.length ?? 0))
    const byIndex = new Map<number, number>()
    if (live && m.gpus) for (const g of m.gpus) byIndex.set(g.index, g.utilization)
    for (let y = 0; y < n; y++) cells.push([x, y, byIndex.get(y) ?? NO_DATA])
  })
  return { machines: list, rows, cells }
}

/** A percentage for a table cell: one decimal, '—' when not reported. */
export function pct(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : `${Math.round(v * 10) / 10}%`
}
