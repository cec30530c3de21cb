// The machine's lease cleanup as the detail page shows it: the steps of the
// allocation it cleans up after (GET /api/admin/allocations/{id}), read
// again every few seconds while the cleanup runs. When the allocation says
// the cleanup is over, `finished` is called (the page reloads the machine,
// whose cleanup is then gone).
import { getCurrentScope, onScopeDispose, shallowRef, watch } from 'vue'
import { getAllocation } from '@/api/allocations'
import type { Allocation, Machine } from '@/api/types'

export const CLEANUP_POLL_MS = 5000

export function useLeaseCleanup(machine: () => Machine | null, finished: () => unknown) {
  const allocation = shallowRef<Allocation | null>(null)
  let timer: ReturnType<typeof setTimeout> | undefined
  let disposed = false
  let seq = 0

  function stop() {
    clearTimeout(timer)
    timer = undefined
  }

  async function load() {
    stop()
    const id = machine()?.cleanup?.allocationId
    const mine = ++seq
    if (!id) {
      allocation.value = null
      return
    }
    try {
      const a = await getAllocation(id)
      if (disposed || mine !== seq) return
      allocation.value = a
      if (a.cleanupStatus === 'running') {
        timer = setTimeout(() => void load(), CLEANUP_POLL_MS)
      } else {
        await finished()
      }
    } catch {
      // the HTTP layer said why; try again later while the machine still waits
      if (!disposed && mine === seq) timer = setTimeout(() => void load(), CLEANUP_POLL_MS * 2)
    }
  }

  watch(() => machine()?.cleanup?.allocationId, () => void load(), { immediate: true })
  if (getCurrentScope()) {
    onScopeDispose(() => {
      disposed = true
      stop()
    })
  }

  return { allocation, load, stop }
}
