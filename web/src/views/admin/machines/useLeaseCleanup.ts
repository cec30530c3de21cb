// The machine's lease cleanup as the detail page shows it: the steps of the
// allocation it cleans up after (GET /api/admin/allocations/{id}), read
// again every few seconds while the cleanup runs. When the allocation says
// the cleanup is over, `finished` is called (the page reloads the machine,
// whose cleanup is then gone).
import { usePoll } from '@/composables/usePoll'
import { getAllocation } from '@/api/allocations'
import type { Allocation, Machine } from '@/api/types'

export const CLEANUP_POLL_MS = 5000

export function useLeaseCleanup(machine: () => Machine | null, finished: () => unknown) {
  const { value: allocation, load, stop } = usePoll<Allocation>({
    key: () => machine()?.cleanup?.allocationId,
    read: getAllocation,
    // until the first answer, and while the host's steps go on
    again: (a) => a === null || a.cleanupStatus === 'running',
    every: CLEANUP_POLL_MS,
    retryAfter: CLEANUP_POLL_MS * 2,
    immediate: true,
    settled: finished,
  })
  return { allocation, load, stop }
}
