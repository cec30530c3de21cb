import type { TaskMetrics } from '@/api/tasks'
import { emptySeries, type GpuSample, type MachineSeries } from '@/views/customer/monitoring/series'

/** The task's GPU points as the machine charts' series (no host figures). */
export function metricsSeries(m: TaskMetrics | null): MachineSeries {
  const s = emptySeries()
  for (const g of m?.gpus ?? []) {
    s.gpus.set(
      g.index,
      (g.points ?? []).map(
        (p): GpuSample => ({ at: Date.parse(p.at), util: p.util, memUsedMib: p.memUsedMib, memTotalMib: p.memTotalMib, temp: 0, power: 0 }),
      ),
    )
  }
  return s
}
