// The pieces of the task log viewer that hold no Vue: the lines kept (a ring
// of at most `cap` lines, the oldest dropped first), the batching of incoming
// lines into one change per animation frame, the window of rows a scroll
// position shows, whether to keep following the end, and the search
// highlight. A log can arrive at thousands of lines a second; none of this
// is reactive, the viewer re-reads it when `version` changes.
import type { TaskLogLine } from '@/api/tasks'

/** Lines kept in the browser; older ones are dropped (the download has them all). */
export const LOG_CAP = 100_000

/** Height of one log row, px (rows never wrap, so every row has it). */
export const ROW_HEIGHT = 18

/** The last `cap` lines of a log, in order, each once. */
export class LogBuffer {
  /** lines removed from the front to stay within the cap, since the last reset */
  dropped = 0
  /** n of the newest line; lines at or before it are duplicates (a backlog and a socket overlap) */
  lastN = 0
  private ring: TaskLogLine[] = []
  /** index in ring of the oldest line once the ring is full */
  private head = 0

  constructor(readonly cap: number = LOG_CAP) {
    if (cap < 1) throw new Error('cap must be at least 1')
  }

  get size(): number {
    return this.ring.length
  }

  /** Append lines in order; returns how many were new. */
  append(lines: readonly TaskLogLine[]): number {
    let added = 0
    for (const line of lines) {
      if (line.n <= this.lastN) continue
      this.lastN = line.n
      added++
      if (this.ring.length < this.cap) {
        this.ring.push(line)
      } else {
        this.ring[this.head] = line
        this.head = (this.head + 1) % this.cap
        this.dropped++
      }
    }
    return added
  }

  /** The i-th line kept (0: the oldest). */
  at(i: number): TaskLogLine | undefined {
    if (i < 0 || i >= this.ring.length) return undefined
    return this.ring[(this.head + i) % this.ring.length]
  }

  /** Lines [start, end) of those kept. */
  slice(start: number, end: number): TaskLogLine[] {
    const from = Math.max(0, start)
    const to = Math.min(this.ring.length, end)
    const out: TaskLogLine[] = []
    for (let i = from; i < to; i++) out.push(this.ring[(this.head + i) % this.ring.length])
    return out
  }

  /**
   * Go on after line n, letting go of every line before it: a log longer
   * than the cap is read from its last `cap` lines, not from its start.
   */
  skipTo(n: number) {
    if (n <= this.lastN) return
    this.dropped += this.ring.length + (n - this.lastN)
    this.ring = []
    this.head = 0
    this.lastN = n
  }

  reset() {
    this.ring = []
    this.head = 0
    this.dropped = 0
    this.lastN = 0
  }
}

export interface LogWindow {
  /** first row rendered */
  start: number
  /** one past the last row rendered */
  end: number
  /** where the first rendered row sits, px from the top */
  offset: number
  /** the height of all rows, px */
  height: number
}

/** The rows to render for a scroll position: those in view plus `overscan` on each side. */
export function visibleWindow(
  scrollTop: number,
  viewportHeight: number,
  total: number,
  rowHeight: number = ROW_HEIGHT,
  overscan = 10,
): LogWindow {
  const height = total * rowHeight
  if (total <= 0) return { start: 0, end: 0, offset: 0, height: 0 }
  // a scroll position past the end (the rows just shrank) shows the last screen
  const top = Math.max(0, Math.min(scrollTop, height - viewportHeight))
  const start = Math.max(0, Math.floor(top / rowHeight) - overscan)
  const end = Math.min(total, Math.ceil((top + Math.max(0, viewportHeight)) / rowHeight) + overscan)
  return { start, end: Math.max(start, end), offset: start * rowHeight, height }
}

export interface ScrollState {
  scrollTop: number
  /** the scrollTop before this scroll event */
  prevScrollTop: number
  scrollHeight: number
  clientHeight: number
}

/** Within this many px of the end counts as at the end. */
export const FOLLOW_SLACK = ROW_HEIGHT * 2

export function atEnd(s: Pick<ScrollState, 'scrollTop' | 'scrollHeight' | 'clientHeight'>, slack = FOLLOW_SLACK): boolean {
  return s.scrollHeight - s.scrollTop - s.clientHeight <= slack
}

/**
 * Whether to follow the end after the user scrolled: scrolling up pauses,
 * scrolling back down to the end follows again; anything else leaves it.
 */
export function followAfterScroll(following: boolean, s: ScrollState, slack = FOLLOW_SLACK): boolean {
  const end = atEnd(s, slack)
  if (following && !end && s.scrollTop < s.prevScrollTop) return false
  if (!following && end && s.scrollTop > s.prevScrollTop) return true
  return following
}

export interface LineBatcher {
  push(lines: readonly TaskLogLine[]): void
  /** apply what is pending now */
  flush(): void
  /** drop what is pending */
  cancel(): void
  readonly pending: number
}

const defaultRaf = (cb: () => void) =>
  typeof requestAnimationFrame === 'function' ? requestAnimationFrame(() => cb()) : setTimeout(cb, 16)

/**
 * Lines are applied at most once per animation frame, all that came since
 * the last one in one call. A hidden tab runs no animation frames: past
 * `maxPending` lines they are applied at once, so memory stays bounded.
 */
export function createLineBatcher(
  apply: (lines: TaskLogLine[]) => void,
  options: { raf?: (cb: () => void) => unknown; maxPending?: number } = {},
): LineBatcher {
  const raf = options.raf ?? defaultRaf
  const maxPending = options.maxPending ?? 20_000
  let pending: TaskLogLine[] = []
  let scheduled = false
  let generation = 0

  function flush() {
    scheduled = false
    if (!pending.length) return
    const batch = pending
    pending = []
    apply(batch)
  }

  return {
    push(lines) {
      for (const l of lines) pending.push(l)
      if (pending.length >= maxPending) return flush()
      if (scheduled) return
      scheduled = true
      const mine = generation
      raf(() => {
        if (mine === generation) flush()
      })
    },
    flush,
    cancel() {
      generation++
      pending = []
      scheduled = false
    },
    get pending() {
      return pending.length
    },
  }
}

export interface TextPart {
  text: string
  hit: boolean
}

/** `text` cut around every occurrence of `q`, case-insensitive (the server's search is a substring one). */
export function highlightParts(text: string, q: string): TextPart[] {
  if (!q) return [{ text, hit: false }]
  const hay = text.toLowerCase()
  const needle = q.toLowerCase()
  const parts: TextPart[] = []
  let from = 0
  for (;;) {
    const i = hay.indexOf(needle, from)
    if (i < 0) break
    if (i > from) parts.push({ text: text.slice(from, i), hit: false })
    parts.push({ text: text.slice(i, i + needle.length), hit: true })
    from = i + needle.length
  }
  if (from < text.length || !parts.length) parts.push({ text: text.slice(from), hit: false })
  return parts
}
