import { describe, expect, it } from 'vitest'
import type { MachineHistory, MachineRealtime } from '@/api/types'
import { appendRealtime, formatBps, fromHistory, MAX_POINTS } from './series'

const history: MachineHistory = {
  machineId: 'm1',
  from: '2026-01-01T00:00:00Z',
  to: '2026-01-01T01:00:00Z',
  stepSeconds: 60,
  source: '1m',
  gpus: [
    {
      index: 0,
      points: [
        { at: '2026-01-01T00:58:00Z', util: 50, utilMax: 60, memUsedMib: 1024, memTotalMib: 81920, tempC: 60, tempMax: 61, powerW: 200 },
        { at: '2026-01-01T00:59:00Z', util: 55, utilMax: 65, memUsedMib: 2048, memTotalMib: 81920, tempC: 62, tempMax: 63, powerW: 210 },
      ],
    },
  ],
  host: [
    {
      at: '2026-01-01T00:59:00Z',
      cpuPct: 10,
      cpuMax: 12,
      memPct: 20,
      diskPct: 30,
      diskReadBps: 1,
      diskWriteBps: 2,
      netRxBps: 3,
      netTxBps: 4,
      load1: 0.5,
    },
  ],
}

const realtime = (at: string, util: number): MachineRealtime => ({
  machineId: 'm1',
  name: 'gpu-1',
  status: 'online',
  gpuSource: 'simulated',
  lastSeenAt: at,
  sampleAt: at,
  gpuUtil: util,
  gpuMemPct: 10,
  gpus: [
    { index: 0, utilization: util, memUsedMib: 4096, memTotalMib: 81920, tempC: 70, powerW: 250, powerLimitW: 400 },
    { index: 1, utilization: 1, memUsedMib: 0, memTotalMib: 81920, tempC: 40, powerW: 60, powerLimitW: 400 },
  ],
  host: {
    cpuPct: 11,
    memPct: 21,
    memUsedMib: 1,
    memTotalMib: 2,
    diskPct: 31,
    disks: [],
    diskReadBps: 5,
    diskWriteBps: 6,
    netRxBps: 7,
    netTxBps: 8,
    load1: 1,
  },
  processes: [],
})

describe('machine series', () => {
  it('turns the history into chart points and appends newer live figures only', () => {
    const s = fromHistory(history)
    expect(s.gpus.get(0)).toHaveLength(2)
    expect(s.host[0]).toMatchObject({ cpu: 10, mem: 20, disk: 30, diskRead: 1, diskWrite: 2, rx: 3, tx: 4 })

    const now = Date.parse('2026-01-01T01:00:05Z')
    expect(appendRealtime(s, realtime('2026-01-01T01:00:00Z', 77), '1h', now)).toBe(true)
    expect(s.host).toHaveLength(2)
    expect(s.gpus.get(0)!.at(-1)).toMatchObject({ util: 77, memUsedMib: 4096, temp: 70 })
    // a GPU that the history did not have starts its own line
    expect(s.gpus.get(1)).toHaveLength(1)
    // the same sample again (a reconnect's first frame) adds nothing
    expect(appendRealtime(s, realtime('2026-01-01T01:00:00Z', 10), '1h', now)).toBe(false)
    expect(s.host).toHaveLength(2)
  })

  it('drops points that fell out of the range, and keeps at most MAX_POINTS', () => {
    const s = fromHistory(history)
    appendRealtime(s, realtime('2026-01-01T02:00:00Z', 1), '1h', Date.parse('2026-01-01T02:00:00Z'))
    expect(s.host).toHaveLength(1)
    expect(s.gpus.get(0)).toHaveLength(1)

    const t0 = Date.parse('2026-01-02T00:00:00Z')
    for (let i = 1; i <= MAX_POINTS + 10; i++) {
      const at = new Date(t0 + i * 5000).toISOString()
      appendRealtime(s, realtime(at, i % 100), '24h', t0 + i * 5000)
    }
    expect(s.host).toHaveLength(MAX_POINTS)
  })

  it('formats byte rates', () => {
    expect(formatBps(0)).toBe('0 B/s')
    expect(formatBps(1536)).toBe('1.5 KB/s')
    expect(formatBps(26.6 * 1024 * 1024)).toBe('26.6 MB/s')
    expect(formatBps(null)).toBe('—')
  })
})
