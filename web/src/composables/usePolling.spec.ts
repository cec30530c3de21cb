import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h, nextTick, ref } from 'vue'
import { mount } from '@vue/test-utils'
import { usePolling } from './usePolling'

function setVisibility(state: 'visible' | 'hidden') {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state })
  document.dispatchEvent(new Event('visibilitychange'))
}

describe('usePolling', () => {
  beforeEach(() => {
    vi.useFakeTimers()
    setVisibility('visible')
  })
  afterEach(() => {
    vi.useRealTimers()
    setVisibility('visible')
  })

  function host(active: () => boolean) {
    const tick = vi.fn(async () => undefined)
    const w = mount(
      defineComponent({
        setup() {
          usePolling(tick, { intervalMs: 5000, active })
          return () => h('div')
        },
      }),
    )
    return { tick, w }
  }

  it('polls every interval while something is active, and stops when nothing is', async () => {
    const on = ref(true)
    const { tick, w } = host(() => on.value)
    await vi.advanceTimersByTimeAsync(4999)
    expect(tick).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1)
    expect(tick).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(5000)
    expect(tick).toHaveBeenCalledTimes(2)

    on.value = false
    await nextTick()
    await vi.advanceTimersByTimeAsync(20_000)
    expect(tick).toHaveBeenCalledTimes(2)

    on.value = true
    await nextTick()
    await vi.advanceTimersByTimeAsync(5000)
    expect(tick).toHaveBeenCalledTimes(3)
    w.unmount()
  })

  it('does not poll a hidden page, and catches up when it shows again', async () => {
    const { tick, w } = host(() => true)
    setVisibility('hidden')
    await vi.advanceTimersByTimeAsync(30_000)
    expect(tick).not.toHaveBeenCalled()
    setVisibility('visible')
    await vi.advanceTimersByTimeAsync(0)
    expect(tick).toHaveBeenCalledTimes(1)
    w.unmount()
  })

  it('stops with the page', async () => {
    const { tick, w } = host(() => true)
    w.unmount()
    await vi.advanceTimersByTimeAsync(20_000)
    expect(tick).not.toHaveBeenCalled()
  })
})
