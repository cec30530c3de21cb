import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope, nextTick, ref } from 'vue'
import { flushPromises } from '@vue/test-utils'
import { usePoll } from './usePoll'

type Reading = { key: string; done: boolean }

beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }))
afterEach(() => vi.useRealTimers())

describe('usePoll', () => {
  it('reads at once on a new key, drops the answer of the key it left, and settles once', async () => {
    const key = ref('a')
    const answers: Record<string, (v: Reading) => void> = {}
    const read = vi.fn((k: string) => new Promise<Reading>((resolve) => (answers[k] = resolve)))
    const settled = vi.fn()
    const scope = effectScope()
    const poll = scope.run(() =>
      usePoll<Reading>({ key: () => key.value, read, again: (v) => !v?.done, every: 100, immediate: true, settled }),
    )!
    expect(read).toHaveBeenCalledWith('a')
    key.value = 'b'
    await nextTick()
    expect(read).toHaveBeenCalledWith('b')
    answers.a!({ key: 'a', done: false })
    await flushPromises()
    expect(poll.value.value).toBeNull()
    answers.b!({ key: 'b', done: false })
    await flushPromises()
    expect(poll.value.value?.key).toBe('b')
    await vi.advanceTimersByTimeAsync(100)
    expect(read).toHaveBeenCalledTimes(3)
    answers.b!({ key: 'b', done: true })
    await flushPromises()
    expect(settled).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(500)
    expect(read).toHaveBeenCalledTimes(3)
    scope.stop()
  })

  it('tries a failed read again after retryAfter while the value is worth it', async () => {
    const read = vi.fn().mockRejectedValueOnce(new Error('down')).mockResolvedValue({ key: 'a', done: true })
    const scope = effectScope()
    const poll = scope.run(() =>
      usePoll<Reading>({ key: () => 'a', read, again: (v) => !v?.done, every: 100, retryAfter: 300, immediate: true }),
    )!
    await flushPromises()
    await vi.advanceTimersByTimeAsync(299)
    expect(read).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1)
    await flushPromises()
    expect(read).toHaveBeenCalledTimes(2)
    expect(poll.value.value?.done).toBe(true)
    scope.stop()
  })
})
