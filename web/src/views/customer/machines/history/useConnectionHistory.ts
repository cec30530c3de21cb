import { listMyConnectionHistory } from '@/api/myMachines'
import type { AuditLog } from '@/api/types'
import { useQueryTable } from '@/composables/useQueryTable'
import { useMachineSummary } from '../useMachineSummary'

export interface HistoryFilters {
  [key: string]: string
  machineId: string
}

/** What a history entry says about its machine (the audit entry's detail). */
export function entryMachine(e: AuditLog): string {
  const d = (e.detail ?? {}) as { machine?: unknown }
  return typeof d.machine === 'string' ? d.machine : ''
}

export function entryCommand(e: AuditLog): string {
  const d = (e.detail ?? {}) as { command?: unknown }
  return typeof d.command === 'string' ? d.command : ''
}

export function useConnectionHistory() {
  const table = useQueryTable<AuditLog, HistoryFilters>(
    (page, f) => listMyConnectionHistory({ ...page, machineId: f.machineId || undefined }),
    { filters: { machineId: '' }, sortBy: 'createdAt', order: 'desc', sortKeys: ['createdAt'] },
  )
  const summary = useMachineSummary()
  void summary.load()
  return { ...table, machines: summary.machines }
}
