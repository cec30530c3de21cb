import { getCurrentInstance, onBeforeUnmount, watch } from 'vue'

export interface UsePollingOptions {
  intervalMs: number
  /** poll only while this holds (something on the page is still changing) */
  active: () => boolean
}

/**
 * Call `tick` every `intervalMs` while `active()` holds and the page is
 * visible; a hidden tab does not poll, and catches up at once when it shows
 * again. A tick that takes long delays the next one (never two at once).
 */
export function usePolling(tick: () => unknown, options: UsePollingOptions) {
  let timer: ReturnType<typeof setTimeout> | null = null
  let running = false
  let stopped = false

  const visible = () => typeof document === 'undefined' || document.visibilityState !== 'hidden'

  function clear() {
    if (timer) clearTimeout(timer)
    timer = null
  }

  function schedule(delay = options.intervalMs) {
    clear()
    if (stopped || !options.active() || !visible()) return
    timer = setTimeout(run, delay)
  }

  async function run() {
    timer = null
    if (stopped || running || !options.active() || !visible()) return
    running = true
    try {
      await tick()
    } catch {
      // the tick reports its own errors
    } finally {
      running = false
      schedule()
    }
  }

  function onVisibility() {
    if (visible()) schedule(0)
    else clear()
  }
  document.addEventListener('visibilitychange', onVisibility)

  // something started changing: poll; nothing does: stop
  watch(options.active, (on) => (on ? schedule() : clear()))

  function stop() {
    stopped = true
    clear()
    document.removeEventListener('visibilitychange', onVisibility)
  }
  if (getCurrentInstance()) onBeforeUnmount(stop)

  schedule()
  return { stop, restart: () => schedule() }
}
