// A value read again on a timer while it is worth it: the host has not
// answered a password reset yet, a lease cleanup still runs. Reads never
// overlap, an answer for a key the caller no longer looks at is dropped,
// and the timer stops when the value settles, when the caller stops
// looking (active), and when the scope ends (the component unmounts).
import { getCurrentScope, onScopeDispose, shallowRef, watch, type ShallowRef } from 'vue'

export interface PollOptions<T> {
  /** What to read (a machine, an allocation); nothing is read while it is empty. */
  key: () => string | null | undefined
  read: (key: string) => Promise<T>
  /** Whether the value (null: none read yet) is worth reading again. */
  again: (value: T | null) => boolean
  /** ms between reads. */
  every: number
  /** ms before trying again after a failed read (default: every). */
  retryAfter?: number
  /** The timer reads only while this holds (default: always). */
  active?: () => boolean
  /**
   * Read at once whenever the key changes, and forget the value when the
   * key goes; else the caller loads or sets the value itself.
   */
  immediate?: boolean
  /** Called with a value read that is not worth reading again. */
  settled?: (value: T) => unknown
}

export function usePoll<T>(o: PollOptions<T>) {
  const value = shallowRef<T | null>(null) as ShallowRef<T | null>
  const active = o.active ?? (() => true)
  let timer: ReturnType<typeof setTimeout> | undefined
  let seq = 0 // the read whose answer counts
  let inFlight = false
  let disposed = false

  function stop() {
    clearTimeout(timer)
    timer = undefined
  }

  function schedule(after = o.every) {
    stop()
    if (disposed || inFlight || !o.key() || !active() || !o.again(value.value)) return
    timer = setTimeout(() => void read(true), after)
  }

  async function read(timed: boolean) {
    stop()
    const key = o.key()
    const mine = ++seq
    if (!key) {
      if (o.immediate) value.value = null
      return
    }
    inFlight = true
    let retry = false
    try {
      const v = await o.read(key)
      // the answer of what the caller still looks at
      if (disposed || mine !== seq || key !== o.key() || (timed && !active())) return
      value.value = v
      if (!o.again(v)) await o.settled?.(v)
    } catch {
      // the HTTP layer said why (or the read is silent); try again later while still worth it
      retry = true
    } finally {
      if (mine === seq) inFlight = false
    }
    if (mine === seq) schedule(retry ? (o.retryAfter ?? o.every) : o.every)
  }

  /** Read it now (a page that shows the value, a key that changed). */
  const load = () => read(false)

  if (o.immediate) watch(o.key, () => void load(), { immediate: true })
  watch([o.key, active, () => o.again(value.value)], () => schedule())
  if (getCurrentScope()) {
    onScopeDispose(() => {
      disposed = true
      stop()
    })
  }

  return { value, load, stop }
}
