// Live frames are applied at most once per interval, in an animation frame:
// a burst of frames (a reconnect, a slow tab catching up) costs one render.
// Frames that arrive in between are merged (or the newest kept).

export interface FrameThrottleOptions<F> {
  /** at most one apply per this many ms */
  intervalMs: number
  /** combine a pending frame with a newer one (default: keep the newer) */
  merge?(older: F, newer: F): F
  /** test hooks */
  now?(): number
  raf?(cb: () => void): unknown
}

export interface FrameThrottle<F> {
  push(frame: F): void
  /** apply what is pending now */
  flush(): void
  /** drop what is pending (leaving the page) */
  cancel(): void
}

const defaultRaf = (cb: () => void) =>
  typeof requestAnimationFrame === 'function' ? requestAnimationFrame(() => cb()) : setTimeout(cb, 0)

export function createFrameThrottle<F>(apply: (frame: F) => void, options: FrameThrottleOptions<F>): FrameThrottle<F> {
  const now = options.now ?? (() => Date.now())
  const raf = options.raf ?? defaultRaf
  let pending: { frame: F } | null = null
  let last = -Infinity
  let timer: ReturnType<typeof setTimeout> | null = null
  let waitingFrame = false
  let cancelled = false

  function run() {
    waitingFrame = false
    if (cancelled || !pending) return
    const { frame } = pending
    pending = null
    last = now()
    apply(frame)
  }

  function schedule() {
    if (timer || waitingFrame) return
    const wait = Math.max(0, last + options.intervalMs - now())
    timer = setTimeout(() => {
      timer = null
      waitingFrame = true
      raf(run)
    }, wait)
  }

  return {
    push(frame) {
      cancelled = false
      pending = pending && options.merge ? { frame: options.merge(pending.frame, frame) } : { frame }
      schedule()
    },
    flush() {
      if (timer) clearTimeout(timer)
      timer = null
      run()
    },
    cancel() {
      cancelled = true
      pending = null
      if (timer) clearTimeout(timer)
      timer = null
    },
  }
}
