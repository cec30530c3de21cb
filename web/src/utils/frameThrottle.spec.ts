import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createFrameThrottle } from './frameThrottle'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

/** An animation frame that runs at the next timer turn. */
const raf = (cb: () => void) => setTimeout(cb, 0)

describe('createFrameThrottle', () => {
  it('applies the first frame at once and then at most one per interval, the newest', async () => {
    const applied: number[] = []
    const th = createFrameThrottle<number>((n) => applied.push(n), { intervalMs: 1000, raf, now: () => Date.now() })
    th.push(1)
    await vi.advanceTimersByTimeAsync(2)
    expect(applied).toEqual([1])

    for (let n = 2; n <= 6; n++) th.push(n)
    await vi.advanceTimersByTimeAsync(500)
    expect(applied).toEqual([1])
    await vi.advanceTimersByTimeAsync(510)
    expect(applied).toEqual([1, 6])
    await vi.advanceTimersByTimeAsync(5000)
    expect(applied).toEqual([1, 6])
  })

  it('merges the frames that wait', async () => {
    const applied: number[][] = []
    const th = createFrameThrottle<number[]>((f) => applied.push(f), {
      intervalMs: 1000,
      raf,
      merge: (a, b) => [...a, ...b],
    })
    th.push([1])
    await vi.advanceTimersByTimeAsync(2)
    th.push([2])
    th.push([3])
    await vi.advanceTimersByTimeAsync(1010)
    expect(applied).toEqual([[1], [2, 3]])
  })

  it('drops what waits when cancelled, and flush applies at once', async () => {
    const applied: number[] = []
    const th = createFrameThrottle<number>((n) => applied.push(n), { intervalMs: 1000, raf })
    th.push(1)
    th.cancel()
    await vi.advanceTimersByTimeAsync(2000)
    expect(applied).toEqual([])
    th.push(2)
    th.flush()
    expect(applied).toEqual([2])
  })
})
