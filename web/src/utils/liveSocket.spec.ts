import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { backoffDelay, LiveSocket, type LiveSocketOptions, type LiveStatus, type SocketLike } from './liveSocket'

/** A socket the test opens, feeds and closes by hand. */
class FakeSocket implements SocketLike {
  onopen: ((ev: Event) => void) | null = null
  onmessage: ((ev: MessageEvent) => void) | null = null
  onclose: ((ev: CloseEvent) => void) | null = null
  onerror: ((ev: Event) => void) | null = null
  closedWith: number | null = null
  constructor(readonly url: string) {}
  open() {
    this.onopen?.(new Event('open'))
  }
  send(frame: unknown) {
    this.onmessage?.({ data: JSON.stringify(frame) } as MessageEvent)
  }
  drop(code = 1006, reason = '') {
    this.onclose?.({ code, reason } as CloseEvent)
  }
  close(code?: number) {
    this.closedWith = code ?? 1000
  }
}

function setup(over: Partial<LiveSocketOptions<{ n: number }>> = {}) {
  const sockets: FakeSocket[] = []
  const frames: { n: number }[] = []
  const statuses: LiveStatus[] = []
  let issued = 0
  const ticket = vi.fn(async (): Promise<string | null> => `tk${++issued}`)
  const onEnd = vi.fn()
  const live = new LiveSocket<{ n: number }>({
    url: (t) => `ws://h/ws/admin/monitoring?ticket=${t}`,
    ticket,
    onFrame: (f) => frames.push(f),
    onStatus: (s) => statuses.push(s),
    onEnd,
    createSocket: (url) => {
      const s = new FakeSocket(url)
      sockets.push(s)
      return s
    },
    random: () => 1,
    ...over,
  })
  const last = () => sockets[sockets.length - 1]!
  return { live, sockets, frames, statuses, ticket, onEnd, last }
}

/** Let the ticket promise settle. */
const tick = () => vi.advanceTimersByTimeAsync(0)

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('backoffDelay', () => {
  it('doubles from the minimum up to the maximum, the upper half jittered', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 1000, 30_000, () => 1))).toEqual([1000, 2000, 4000, 8000, 30_000])
    expect(backoffDelay(3, 1000, 30_000, () => 0)).toBe(4000)
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(2, 1000, 30_000)
      expect(d).toBeGreaterThanOrEqual(2000)
      expect(d).toBeLessThanOrEqual(4000)
    }
  })
})

describe('LiveSocket', () => {
  it('connects with a ticket, goes live and hands over frames', async () => {
    const { live, last, frames, statuses } = setup()
    live.start()
    expect(live.status).toBe('connecting')
    await tick()
    expect(last().url).toBe('ws://h/ws/admin/monitoring?ticket=tk1')
    last().open()
    last().send({ n: 1 })
    last().send({ n: 2 })
    expect(live.status).toBe('live')
    expect(frames).toEqual([{ n: 1 }, { n: 2 }])
    expect(statuses).toEqual(['connecting', 'live'])
  })

  it('reconnects after a drop with growing delays, and starts over once frames flow again', async () => {
    const { live, sockets, last } = setup()
    live.start()
    await tick()
    last().open()
    last().send({ n: 1 })

    last().drop(1006)
    expect(live.status).toBe('reconnecting')
    expect(live.retryInMs).toBe(1000)
    await vi.advanceTimersByTimeAsync(999)
    expect(sockets).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(sockets).toHaveLength(2)

    // fails again before opening: the next wait doubles
    last().drop(1006)
    expect(live.retryInMs).toBe(2000)
    await vi.advanceTimersByTimeAsync(2000)
    expect(sockets).toHaveLength(3)
    last().drop(1006)
    expect(live.retryInMs).toBe(4000)
    await vi.advanceTimersByTimeAsync(4000)

    // connected and a frame arrived: the next drop waits the minimum again
    last().open()
    last().send({ n: 2 })
    expect(live.status).toBe('live')
    last().drop(4008, 'slow consumer')
    expect(live.retryInMs).toBe(1000)
  })

  it('takes a new ticket for every handshake (a ticket is spent by its handshake)', async () => {
    const { live, last, sockets, ticket } = setup()
    live.start()
    await tick()
    last().drop(1006)
    await vi.advanceTimersByTimeAsync(1000)
    last().drop(1006)
    await vi.advanceTimersByTimeAsync(2000)
    expect(ticket).toHaveBeenCalledTimes(3)
    expect(sockets.map((s) => s.url.split('=')[1])).toEqual(['tk1', 'tk2', 'tk3'])
  })

  it('retries with backoff when no ticket can be had (API unreachable), without a socket', async () => {
    const ticket = vi.fn<() => Promise<string | null>>().mockRejectedValueOnce(new Error('Network Error')).mockResolvedValue('tk')
    const { live, sockets } = setup({ ticket })
    live.start()
    await tick()
    expect(sockets).toHaveLength(0)
    expect(live.status).toBe('reconnecting')
    expect(live.retryInMs).toBe(1000)
    await vi.advanceTimersByTimeAsync(1000)
    expect(sockets).toHaveLength(1)
    expect(sockets[0]!.url).toContain('ticket=tk')
  })

  it('stops for good when the session ended (4401)', async () => {
    const { live, last, sockets, onEnd } = setup()
    live.start()
    await tick()
    last().open()
    last().drop(4401, 'session ended')
    expect(live.status).toBe('ended')
    expect(live.endReason).toBe('session')
    expect(onEnd).toHaveBeenCalledWith('session', { code: 4401, reason: 'session ended' })
    await vi.advanceTimersByTimeAsync(60_000)
    expect(sockets).toHaveLength(1)
  })

  it('stops for good when the lease ended (4403)', async () => {
    const { live, last, sockets, onEnd } = setup()
    live.start()
    await tick()
    last().open()
    last().drop(4403, 'allocation ended')
    expect(live.status).toBe('ended')
    expect(live.endReason).toBe('lease')
    expect(onEnd).toHaveBeenCalledWith('lease', expect.objectContaining({ code: 4403 }))
    await vi.advanceTimersByTimeAsync(60_000)
    expect(sockets).toHaveLength(1)
  })

  it('stops for good when what it follows is gone (4404)', async () => {
    const { live, last, sockets, onEnd } = setup()
    live.start()
    await tick()
    last().open()
    last().drop(4404, 'task deleted')
    expect(live.status).toBe('ended')
    expect(live.endReason).toBe('gone')
    expect(onEnd).toHaveBeenCalledWith('gone', expect.objectContaining({ code: 4404 }))
    await vi.advanceTimersByTimeAsync(60_000)
    expect(sockets).toHaveLength(1)
  })

  it('ends without a socket when there is no session left', async () => {
    const { live, sockets, onEnd } = setup({ ticket: async () => null })
    live.start()
    await tick()
    expect(sockets).toHaveLength(0)
    expect(live.status).toBe('ended')
    expect(onEnd).toHaveBeenCalledWith('session', { code: 0, reason: 'no session' })
  })

  it('closes while paused and connects again at once on resume', async () => {
    const { live, last, sockets, frames } = setup()
    live.start()
    await tick()
    const first = last()
    first.open()
    live.pause()
    expect(live.status).toBe('paused')
    expect(first.closedWith).toBe(1000)
    // a late frame or close of the paused socket changes nothing
    first.send({ n: 9 })
    first.drop(1006)
    expect(frames).toEqual([])
    await vi.advanceTimersByTimeAsync(60_000)
    expect(sockets).toHaveLength(1)

    live.resume()
    expect(live.status).toBe('reconnecting')
    await tick()
    expect(sockets).toHaveLength(2)
    last().open()
    expect(live.status).toBe('live')
  })

  it('stop() cancels a scheduled reconnect', async () => {
    const { live, last, sockets } = setup()
    live.start()
    await tick()
    last().drop(1006)
    live.stop()
    expect(live.status).toBe('idle')
    await vi.advanceTimersByTimeAsync(60_000)
    expect(sockets).toHaveLength(1)
  })
})
