// The latest password reset (重置密码) of a machine, read again every 2 s
// while it waits for the host agent and the caller is looking (the reset
// dialog is open, the detail page is shown); it stops on its own when the
// host answered, when the caller stops looking, and when its scope ends.
import { getCurrentScope, onScopeDispose, shallowRef, watch } from 'vue'
import { getPasswordReset } from '@/api/machines'
import type { PasswordReset } from '@/api/types'

export const RESET_POLL_MS = 2000

export function usePasswordResetPoll(opts: { machineId: () => string | null | undefined; active: () => boolean }) {
  const result = shallowRef<PasswordReset | null>(null)
  let timer: ReturnType<typeof setTimeout> | undefined
  let inFlight = false
  let disposed = false

  function stop() {
    clearTimeout(timer)
    timer = undefined
  }

  function schedule() {
    stop()
    if (disposed || inFlight || !opts.active() || result.value?.status !== 'pending') return
    timer = setTimeout(() => void poll(), RESET_POLL_MS)
  }

  async function poll() {
    timer = undefined
    const id = opts.machineId()
    if (!id || !opts.active() || disposed) return
    inFlight = true
    try {
      const r = await getPasswordReset(id, { silent: true })
      // the answer of a machine the caller still looks at
      if (!disposed && opts.active() && id === opts.machineId()) result.value = r
    } catch {
      // tried again at the next tick while still pending
    } finally {
      inFlight = false
    }
    schedule()
  }

  /** Read it now (a page that shows the latest reset). */
  async function load() {
    const id = opts.machineId()
    if (!id) return
    try {
      const r = await getPasswordReset(id, { silent: true })
      if (!disposed && id === opts.machineId()) result.value = r
    } catch {
      // the latest reset is extra information: the page stands without it
    }
  }

  watch([opts.active, () => result.value?.status, opts.machineId], schedule)
  if (getCurrentScope()) {
    onScopeDispose(() => {
      disposed = true
      stop()
    })
  }

  return { result, load, stop }
}
