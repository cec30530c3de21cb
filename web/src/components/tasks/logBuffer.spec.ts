import { describe, expect, it, vi } from 'vitest'
import type { TaskLogLine } from '@/api/tasks'
import {
  atEnd,
  createLineBatcher,
  followAfterScroll,
  highlightParts,
  LogBuffer,
  ROW_HEIGHT,
  visibleWindow,
} from './logBuffer'

const line = (n: number, x = `line ${n}`): TaskLogLine => ({ n, t: '2026-01-01T00:00:00Z', s: 'stdout', x })
const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => line(from + i))

describe('LogBuffer', () => {
  it('keeps lines in order, each once, when a backlog and the socket overlap', () => {
    const b = new LogBuffer(100)
    expect(b.append(lines(1, 10))).toBe(10)
    expect(b.append(lines(5, 15))).toBe(5)
    expect(b.size).toBe(15)
    expect(b.lastN).toBe(15)
    expect(b.slice(0, 100).map((l) => l.n)).toEqual(lines(1, 15).map((l) => l.n))
  })

  it('keeps only the last `cap` lines and counts what it let go', () => {
    const b = new LogBuffer(1000)
    for (let from = 1; from <= 5000; from += 250) b.append(lines(from, from + 249))
    expect(b.size).toBe(1000)
    expect(b.dropped).toBe(4000)
    expect(b.at(0)?.n).toBe(4001)
    expect(b.at(999)?.n).toBe(5000)
    expect(b.at(1000)).toBeUndefined()
    // a slice across the ring's wrap is still in order
    expect(b.slice(995, 1005).map((l) => l.n)).toEqual([4996, 4997, 4998, 4999, 5000])
    expect(b.slice(-5, 3).map((l) => l.n)).toEqual([4001, 4002, 4003])
  })

  it('holds 100,000 lines by default and stays bounded under a long stream', () => {
    const b = new LogBuffer()
    for (let from = 1; from <= 250_000; from += 5000) b.append(lines(from, from + 4999))
    expect(b.size).toBe(100_000)
    expect(b.at(0)?.n).toBe(150_001)
    expect(b.at(99_999)?.n).toBe(250_000)
    expect(b.dropped).toBe(150_000)
  })

  it('skips ahead, counting every line before the skip as let go', () => {
    const b = new LogBuffer(100)
    b.append(lines(1, 40))
    b.skipTo(1000)
    expect([b.size, b.dropped, b.lastN]).toEqual([0, 960 + 40, 1000])
    b.append(lines(990, 1005))
    expect(b.slice(0, 10).map((l) => l.n)).toEqual([1001, 1002, 1003, 1004, 1005])
    b.skipTo(500) // never back
    expect(b.lastN).toBe(1005)
  })

  it('starts over on reset', () => {
    const b = new LogBuffer(10)
    b.append(lines(1, 20))
    b.reset()
    expect([b.size, b.dropped, b.lastN]).toEqual([0, 0, 0])
    expect(b.append(lines(1, 3))).toBe(3)
  })
})

describe('visibleWindow', () => {
  it('renders the rows in view and the overscan around them, never past the ends', () => {
    // 480 px shows 26.7 rows of 18 px
    expect(visibleWindow(0, 480, 100_000, ROW_HEIGHT, 10)).toEqual({ start: 0, end: 37, offset: 0, height: 1_800_000 })
    const w = visibleWindow(18_000, 480, 100_000, ROW_HEIGHT, 10)
    expect(w.start).toBe(990)
    expect(w.end).toBe(1037)
    expect(w.offset).toBe(990 * ROW_HEIGHT)
    expect(w.end - w.start).toBeLessThan(60)
  })

  it('shows the last screen at the end, and when the rows shrank under the scroll position', () => {
    const end = visibleWindow(1_800_000 - 480, 480, 100_000)
    expect(end.end).toBe(100_000)
    // 50 rows are 900 px: the last 480 px start at row 23, less the overscan
    const shrunk = visibleWindow(1_800_000, 480, 50)
    expect(shrunk).toMatchObject({ start: 13, end: 50, offset: 13 * ROW_HEIGHT })
  })

  it('renders nothing for no rows, everything for a few', () => {
    expect(visibleWindow(0, 480, 0)).toEqual({ start: 0, end: 0, offset: 0, height: 0 })
    expect(visibleWindow(0, 480, 5)).toMatchObject({ start: 0, end: 5 })
  })
})

describe('follow and pause', () => {
  const box = { scrollHeight: 10_000, clientHeight: 500 }

  it('pauses when the user scrolls up', () => {
    expect(followAfterScroll(true, { ...box, scrollTop: 8000, prevScrollTop: 9500 })).toBe(false)
  })

  it('keeps following when the scroll moved to the end (its own scroll to a grown end)', () => {
    expect(followAfterScroll(true, { ...box, scrollTop: 9500, prevScrollTop: 9000 })).toBe(true)
    // a small jitter at the end is still the end
    expect(followAfterScroll(true, { ...box, scrollTop: 9490, prevScrollTop: 9500 })).toBe(true)
  })

  it('follows again when the user scrolls back down to the end', () => {
    expect(followAfterScroll(false, { ...box, scrollTop: 9500, prevScrollTop: 7000 })).toBe(true)
    // scrolling down but not to the end leaves it paused
    expect(followAfterScroll(false, { ...box, scrollTop: 8000, prevScrollTop: 7000 })).toBe(false)
    // paused at the end (the button), and lines came in: no scroll event moved it, nothing changes
    expect(followAfterScroll(false, { ...box, scrollTop: 9500, prevScrollTop: 9500 })).toBe(false)
  })

  it('counts a box shorter than its content as at the end', () => {
    expect(atEnd({ scrollTop: 0, scrollHeight: 300, clientHeight: 500 })).toBe(true)
  })
})

describe('line batcher', () => {
  it('applies every line that came within a frame in one call', () => {
    const frames: (() => void)[] = []
    const apply = vi.fn()
    const b = createLineBatcher(apply, { raf: (cb) => frames.push(cb) })
    // 5,000 lines a second in 100 messages: about 83 lines per 60 Hz frame
    for (let i = 0; i < 100; i++) b.push(lines(i * 50 + 1, i * 50 + 50))
    expect(frames).toHaveLength(1)
    expect(apply).not.toHaveBeenCalled()
    expect(b.pending).toBe(5000)
    frames.shift()!()
    expect(apply).toHaveBeenCalledTimes(1)
    expect(apply.mock.calls[0][0]).toHaveLength(5000)
    // the next message asks for the next frame
    b.push(lines(5001, 5001))
    expect(frames).toHaveLength(1)
  })

  it('applies at once past maxPending (a hidden tab runs no frames)', () => {
    const apply = vi.fn()
    const b = createLineBatcher(apply, { raf: () => undefined, maxPending: 1000 })
    b.push(lines(1, 600))
    expect(apply).not.toHaveBeenCalled()
    b.push(lines(601, 1200))
    expect(apply).toHaveBeenCalledTimes(1)
    expect(b.pending).toBe(0)
  })

  it('drops what is pending on cancel, and a late frame applies nothing', () => {
    const frames: (() => void)[] = []
    const apply = vi.fn()
    const b = createLineBatcher(apply, { raf: (cb) => frames.push(cb) })
    b.push(lines(1, 10))
    b.cancel()
    frames.shift()!()
    expect(apply).not.toHaveBeenCalled()
    b.push(lines(11, 12))
    frames.pop()!()
    expect(apply).toHaveBeenCalledWith(lines(11, 12))
  })

  it('turns a minute of 5,000 lines a second into one append per frame and a bounded buffer', () => {
    const buffer = new LogBuffer()
    const frames: (() => void)[] = []
    const apply = vi.fn((l: TaskLogLine[]) => buffer.append(l))
    const b = createLineBatcher(apply, { raf: (cb) => frames.push(cb) })
    // 60 s of 5,000 lines/s, in 60 Hz frames
    let n = 0
    for (let frame = 0; frame < 3600; frame++) {
      const batch: TaskLogLine[] = []
      for (let i = 0; i < 84; i++) batch.push(line(++n))
      b.push(batch)
      frames.shift()?.()
    }
    expect(apply).toHaveBeenCalledTimes(3600)
    expect(buffer.size).toBe(100_000)
    expect(buffer.lastN).toBe(n)
    expect(buffer.at(0)?.n).toBe(n - 99_999)
  })
})

describe('highlight', () => {
  it('cuts the text around every match, ignoring case', () => {
    expect(highlightParts('Epoch 1 loss 0.5; epoch 2', 'EPOCH')).toEqual([
      { text: 'Epoch', hit: true },
      { text: ' 1 loss 0.5; ', hit: false },
      { text: 'epoch', hit: true },
      { text: ' 2', hit: false },
    ])
  })

  it('leaves text without a match (or without a search) whole', () => {
    expect(highlightParts('nothing here', 'zzz')).toEqual([{ text: 'nothing here', hit: false }])
    expect(highlightParts('all of it', '')).toEqual([{ text: 'all of it', hit: false }])
    expect(highlightParts('', 'x')).toEqual([{ text: '', hit: false }])
  })
})
