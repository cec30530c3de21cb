import { describe, expect, it } from 'vitest'
import { emptyRealtimeFilters, filterMachines, heatmapModel, NO_DATA, sortMachines, summarise } from './realtime'
import { syntheticFleet } from '@/test/syntheticFleet'

describe('real-time model', () => {
  const fleet = syntheticFleet(100, 8)

  it('filters by region, state, name and open alerts', () => {
    expect(filterMachines(fleet, emptyRealtimeFilters())).toHaveLength(100)
    expect(filterMachines(fleet, { ...emptyRealtimeFilters(), region: '上海' })).toHaveLength(50)
    expect(filterMachines(fleet, { ...emptyRealtimeFilters(), status: 'offline' }).map((m) => m.name)).toEqual(['gpu-0049', 'gpu-0099'])
    expect(filterMachines(fleet, { ...emptyRealtimeFilters(), keyword: ' GPU-001' })).toHaveLength(10)
    const alerting = filterMachines(fleet, { ...emptyRealtimeFilters(), onlyAlerts: true })
    expect(alerting.every((m) => m.openAlerts > 0)).toBe(true)
    expect(alerting).toHaveLength(10)
  })

  it('sorts by utilisation either way, machines without figures last, ties by name', () => {
    const desc = sortMachines(fleet, 'gpuUtil', 'desc')
    const values = desc.map((m) => m.gpuUtil)
    const known = values.filter((v) => v !== null) as number[]
    expect(known).toEqual([...known].sort((a, b) => b - a))
    expect(values.slice(-2)).toEqual([null, null])
    const asc = sortMachines(fleet, 'gpuUtil', 'asc')
    expect(asc.slice(-2).map((m) => m.gpuUtil)).toEqual([null, null])
    expect(sortMachines(fleet, 'name', 'desc')[0]!.name).toBe('gpu-0099')
  })

  it('summarises the fleet: states, the average of the reporting GPUs, alerts and simulated machines', () => {
    const s = summarise(fleet)
    expect(s).toMatchObject({ machines: 100, online: 98, offline: 2, maintenance: 0, gpus: 98 * 8, alerting: 10, simulated: 34 })
    const all = fleet.flatMap((m) => (m.status === 'online' ? (m.gpus ?? []).map((g) => g.utilization) : []))
    expect(s.avgGpuUtil).toBeCloseTo(all.reduce((a, b) => a + b, 0) / all.length, 1)
  })

  it('lays out one cell per GPU, grey (no data) where the machine does not report', () => {
    const h = heatmapModel(syntheticFleet(1000, 8))
    expect(h.rows).toBe(8)
    expect(h.cells).toHaveLength(8000)
    const offline = h.cells.filter(([x]) => x === 49)
    expect(offline).toHaveLength(8)
    expect(offline.every(([, , v]) => v === NO_DATA)).toBe(true)
    expect(h.cells[8 * 3 + 5]).toEqual([3, 5, h.machines[3]!.gpus![5]!.utilization])
  })
})
