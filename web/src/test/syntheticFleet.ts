// A synthetic fleet for tests: `machines` × `gpus`, figures varying with `seed`.
import type { RealtimeMachine } from '@/api/types'

export function syntheticFleet(machines: number, gpus: number, seed = 0): RealtimeMachine[] {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, seed % 60)).toISOString()
  return Array.from({ length: machines }, (_, i) => {
    const offline = i % 50 === 49
    const util = (g: number) => (i * 7 + g * 13 + seed * 11) % 101
    const list = offline
      ? []
      : Array.from({ length: gpus }, (_, g) => ({
          index: g,
          utilization: util(g),
          memUsedMib: 1024 * ((i + g + seed) % 80),
          memTotalMib: 81920,
          tempC: 40 + ((i + g + seed) % 50),
          powerW: 100 + ((i * g + seed) % 300),
          powerLimitW: 400,
        }))
    const avg = list.length ? list.reduce((s, g) => s + g.utilization, 0) / list.length : null
    return {
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      name: `gpu-${String(i).padStart(4, '0')}`,
      region: i % 2 ? '上海' : '北京',
      status: offline ? 'offline' : 'online',
      gpuSource: i % 3 === 0 ? 'simulated' : 'nvml',
      gpuModel: 'A100 80G',
      gpuCount: gpus,
      lastSeenAt: at,
      sampleAt: offline ? null : at,
      gpuUtil: avg,
      gpuUtilMax: list.length ? Math.max(...list.map((g) => g.utilization)) : null,
      gpuMemPct: offline ? null : 40,
      gpuTemp: list.length ? Math.max(...list.map((g) => g.tempC)) : null,
      gpuPowerW: list.length ? list.reduce((s, g) => s + g.powerW, 0) : null,
      cpuPct: offline ? null : (i * 3 + seed) % 100,
      memPct: offline ? null : (i * 5 + seed) % 100,
      diskPct: offline ? null : (i * 11) % 100,
      netRxBps: 0,
      netTxBps: 0,
      gpus: list,
      openAlerts: i % 10 === 0 ? 1 : 0,
    } satisfies RealtimeMachine
  })
}
