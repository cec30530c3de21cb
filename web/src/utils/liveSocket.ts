// A WebSocket that stays connected: it takes a fresh one-time ticket for
// every handshake, reconnects with exponential backoff and jitter, stops for good
// when the server says the session (4401) or the lease (4403) ended, and can
// be paused (a hidden tab) and resumed. No Vue in here: useLiveSocket wraps
// it for pages, tests drive it with a fake socket.
import { CLOSE_GONE, CLOSE_LEASE_ENDED, CLOSE_SESSION_ENDED } from '@/api/ws'

/**
 * idle: not started or stopped · connecting: the first connection ·
 * live: connected · reconnecting: the connection dropped, waiting or trying
 * again · paused: closed while the page is hidden · ended: the server ended
 * it for good (see EndReason).
 */
export type LiveStatus = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'paused' | 'ended'

/**
 * session: 4401 or no session left (go to the login page) · lease: 4403 (the
 * machine is no longer leased) · gone: 4404 (what it follows was deleted).
 */
export type EndReason = 'session' | 'lease' | 'gone'

/** The part of the browser's WebSocket that is used (a fake in tests). */
export interface SocketLike {
  onopen: ((ev: Event) => void) | null
  onmessage: ((ev: MessageEvent) => void) | null
  onclose: ((ev: CloseEvent) => void) | null
  onerror: ((ev: Event) => void) | null
  close(code?: number, reason?: string): void
}

export interface LiveSocketOptions<T> {
  /** The socket's URL for a ticket. */
  url(ticket: string): string
  /**
   * A one-time ticket for the next handshake. Null: the session is over.
   * A rejection (network, server) is retried like a dropped connection.
   */
  ticket(): Promise<string | null>
  onFrame(frame: T): void
  /** The status, or the wait before the next reconnect, changed. */
  onStatus?(status: LiveStatus, retryInMs: number): void
  onEnd?(reason: EndReason, detail: { code: number; reason: string }): void
  /** Delays of the reconnects: min·2ⁿ, at most max, each with jitter (half of it random). */
  minDelayMs?: number
  maxDelayMs?: number
  createSocket?(url: string): SocketLike
  random?(): number
}

/** The wait before reconnect attempt `attempt` (0-based): exponential, capped, the upper half jittered. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30))
  return Math.round(base / 2 + (random() * base) / 2)
}

export class LiveSocket<T> {
  status: LiveStatus = 'idle'
  endReason: EndReason | null = null
  /** The wait before the next reconnect, ms (0 when none is scheduled). */
  retryInMs = 0

  private readonly opts: Required<Omit<LiveSocketOptions<T>, 'onStatus' | 'onEnd'>> &
    Pick<LiveSocketOptions<T>, 'onStatus' | 'onEnd'>
  private socket: SocketLike | null = null
  private timer: ReturnType<typeof setTimeout> | null = null
  private attempt = 0
  private everLive = false
  /** bumped by every connect/stop/pause, so that a late token or event of an older socket is ignored */
  private generation = 0

  constructor(options: LiveSocketOptions<T>) {
    this.opts = {
      ...options,
      minDelayMs: options.minDelayMs ?? 1000,
      maxDelayMs: options.maxDelayMs ?? 30_000,
      createSocket: options.createSocket ?? ((url) => new WebSocket(url)),
      random: options.random ?? Math.random,
    }
  }

  /** Connect (again); nothing when already running. */
  start() {
    if (this.status !== 'idle' && this.status !== 'ended') return
    this.endReason = null
    this.attempt = 0
    this.everLive = false
    void this.connect()
  }

  /** Close for good (leaving the page). */
  stop() {
    this.generation++
    this.clearTimer()
    this.closeSocket(1000, 'leaving')
    this.setStatus('idle')
  }

  /** Close while the page is hidden; resume() connects again at once. */
  pause() {
    if (this.status === 'idle' || this.status === 'ended' || this.status === 'paused') return
    this.generation++
    this.clearTimer()
    this.closeSocket(1000, 'page hidden')
    this.setStatus('paused')
  }

  resume() {
    if (this.status !== 'paused') return
    this.attempt = 0
    void this.connect()
  }

  /** Skip the wait of a scheduled reconnect. */
  reconnectNow() {
    if (this.status !== 'reconnecting' || !this.timer) return
    this.clearTimer()
    void this.connect()
  }

  private setStatus(s: LiveStatus, retryInMs = 0) {
    if (this.status === s && this.retryInMs === retryInMs) return
    this.status = s
    this.retryInMs = retryInMs
    this.opts.onStatus?.(s, retryInMs)
  }

  private clearTimer() {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  private closeSocket(code: number, reason: string) {
    const s = this.socket
    this.socket = null
    if (!s) return
    s.onopen = s.onmessage = s.onerror = null
    s.onclose = null
    try {
      s.close(code, reason)
    } catch {
      // already closed
    }
  }

  private end(reason: EndReason, code: number, text: string) {
    this.generation++
    this.clearTimer()
    this.closeSocket(1000, 'ended')
    this.endReason = reason
    this.setStatus('ended')
    this.opts.onEnd?.(reason, { code, reason: text })
  }

  private async connect() {
    const gen = ++this.generation
    this.setStatus(this.everLive || this.attempt > 0 ? 'reconnecting' : 'connecting')
    let ticket: string | null
    try {
      ticket = await this.opts.ticket()
    } catch {
      if (gen === this.generation) this.scheduleReconnect(gen)
      return
    }
    if (gen !== this.generation) return
    if (!ticket) return this.end('session', 0, 'no session')
    let socket: SocketLike
    try {
      socket = this.opts.createSocket(this.opts.url(ticket))
    } catch {
      return this.scheduleReconnect(gen)
    }
    this.socket = socket
    socket.onopen = () => {
      if (gen !== this.generation) return
      this.everLive = true
      this.setStatus('live')
    }
    socket.onmessage = (ev) => {
      if (gen !== this.generation) return
      let frame: T
      try {
        frame = JSON.parse(String(ev.data)) as T
      } catch {
        return // not ours to understand
      }
      // a frame arrived: the connection works, the next drop starts the backoff afresh
      this.attempt = 0
      this.opts.onFrame(frame)
    }
    socket.onclose = (ev) => {
      if (gen !== this.generation) return
      this.socket = null
      if (ev.code === CLOSE_SESSION_ENDED) return this.end('session', ev.code, ev.reason)
      if (ev.code === CLOSE_LEASE_ENDED) return this.end('lease', ev.code, ev.reason)
      if (ev.code === CLOSE_GONE) return this.end('gone', ev.code, ev.reason)
      this.scheduleReconnect(gen)
    }
    socket.onerror = () => {
      // onclose follows and decides
    }
  }

  private scheduleReconnect(gen: number) {
    if (gen !== this.generation) return
    const delay = backoffDelay(this.attempt, this.opts.minDelayMs, this.opts.maxDelayMs, this.opts.random)
    this.attempt++
    this.setStatus('reconnecting', delay)
    this.clearTimer()
    this.timer = setTimeout(() => {
      this.timer = null
      if (gen === this.generation) void this.connect()
    }, delay)
  }
}
