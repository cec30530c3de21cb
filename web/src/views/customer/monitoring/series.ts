// A leased machine's figures as time series for the charts: the history the
// monitoring endpoint gives for the chosen range, then one point per live
// frame. Plain arrays, appended in place; the composable hands out a new
// wrapper object per change so that the charts recompute.
import type { GpuSeries, HostPoint, MachineHistory, MachineRealtime, MonitoringRange } from '@/api/types'

/** The charts a page shows. */
export type Panel = 'gpuUtil' | 'gpuMem' | 'gpuTemp' | 'cpu' | 'mem' | 'disk' | 'diskIo' | 'network'

export interface HostSample {
  at: number
  cpu: number
  mem: number
  disk: number
  diskRead: number
  diskWrite: number
  rx: number
  tx: number
}

export interface GpuSample {
  at: number
  util: number
  memUsedMib: number
  memTotalMib: number
  temp: number
  power: number
}

export interface MachineSeries {
  host: HostSample[]
  /** by GPU index */
  gpus: Map<number, GpuSample[]>
}

export const RANGE_MS: Record<MonitoringRange, number> = {
  '1h': 3_600_000,
  '6h': 6 * 3_600_000,
  '24h': 24 * 3_600_000,
  '7d': 7 * 24 * 3_600_000,
  '30d': 30 * 24 * 3_600_000,
}

/** Points kept per series (a week of live 5 s samples would be 120,000). */
export const MAX_POINTS = 2000

export const emptySeries = (): MachineSeries => ({ host: [], gpus: new Map() })

function hostSample(p: HostPoint): HostSample {
  return {
    at: Date.parse(p.at),
    cpu: p.cpuPct,
    mem: p.memPct,
    disk: p.diskPct,
    diskRead: p.diskReadBps,
    diskWrite: p.diskWriteBps,
    rx: p.netRxBps,
    tx: p.netTxBps,
  }
}

export function fromHistory(h: MachineHistory): MachineSeries {
  const gpus = new Map<number, GpuSample[]>()
  for (const g of (h.gpus ?? []) as GpuSeries[]) {
    gpus.set(
      g.index,
      (g.points ?? []).map((p) => ({
        at: Date.parse(p.at),
        util: p.util,
        memUsedMib: p.memUsedMib,
        memTotalMib: p.memTotalMib,
        temp: p.tempC,
        power: p.powerW,
      })),
    )
  }
  return { host: (h.host ?? []).map(hostSample), gpus }
}

function trim<T extends { at: number }>(list: T[], since: number) {
  let drop = 0
  while (drop < list.length && list[drop]!.at < since) drop++
  drop = Math.max(drop, list.length - MAX_POINTS)
  if (drop > 0) list.splice(0, drop)
}

/**
 * Add the figures of a live frame (when newer than what the series hold)
 * and drop what fell out of the range. Returns whether anything was added.
 */
export function appendRealtime(s: MachineSeries, r: MachineRealtime, range: MonitoringRange, now = Date.now()): boolean {
  if (!r.sampleAt) return false
  const at = Date.parse(r.sampleAt)
  const last = s.host.length ? s.host[s.host.length - 1]!.at : -Infinity
  if (!(at > last)) return false
  if (r.host) {
    s.host.push({
      at,
      cpu: r.host.cpuPct,
      mem: r.host.memPct,
      disk: r.host.diskPct,
      diskRead: r.host.diskReadBps,
      diskWrite: r.host.diskWriteBps,
      rx: r.host.netRxBps,
      tx: r.host.netTxBps,
    })
  }
  for (const g of r.gpus ?? []) {
    let list = s.gpus.get(g.index)
    if (!list) s.gpus.set(g.index, (list = []))
    list.push({ at, util: g.utilization, memUsedMib: g.memUsedMib, memTotalMib: g.memTotalMib, temp: g.tempC, power: g.powerW })
  }
  const since = now - RANGE_MS[range]
  trim(s.host, since)
  for (const list of s.gpus.values()) trim(list, since)
  return true
}

/** `12.3 MB/s` */
export function formatBps(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—'
  const units = ['B/s', 'KB/s', 'MB/s', 'GB/s']
  let x = Math.max(0, v)
  let i = 0
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024
    i++
  }
  return `${x >= 100 || i === 0 ? Math.round(x) : x.toFixed(1)} ${units[i]}`
}
