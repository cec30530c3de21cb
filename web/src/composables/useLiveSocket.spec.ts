import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h, nextTick, ref, type Ref } from 'vue'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { storeSession } from '@/test/mountPage'
import { FakeWebSocket, installFakeWebSocket } from '@/test/fakeWebSocket'
import { ApiError } from '@/api/core'

vi.mock('@/api/ws', async (original) => ({
  ...(await original<typeof import('@/api/ws')>()),
  createWsTicket: vi.fn(async () => ({ ticket: 'test-ticket', expiresIn: 30 })),
}))
const { createWsTicket } = await import('@/api/ws')
const { useLiveSocket } = await import('./useLiveSocket')

function setVisibility(state: 'visible' | 'hidden') {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state })
  document.dispatchEvent(new Event('visibilitychange'))
}

function host(path: Ref<string | null>) {
  const frames: unknown[] = []
  let live!: ReturnType<typeof useLiveSocket>
  const Host = defineComponent({
    setup() {
      live = useLiveSocket({ path, onFrame: (f) => frames.push(f), hiddenPauseMs: 10_000 })
      return () => h('div', live.status.value)
    },
  })
  const wrapper = mount(Host)
  return { wrapper, frames, live: () => live }
}

const settle = () => vi.advanceTimersByTimeAsync(0)

describe('useLiveSocket', () => {
  beforeEach(() => {
    vi.useFakeTimers()
    localStorage.clear()
    setActivePinia(createPinia())
    storeSession()
    installFakeWebSocket()
    setVisibility('visible')
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('closes the socket after the tab has been hidden a while, and connects again when it shows', async () => {
    const { wrapper, live } = host(ref('/ws/admin/monitoring'))
    await settle()
    const first = FakeWebSocket.last()!
    first.open()
    expect(live().status.value).toBe('live')

    setVisibility('hidden')
    await vi.advanceTimersByTimeAsync(9_000)
    expect(first.closed).toBe(false)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(first.closed).toBe(true)
    expect(live().status.value).toBe('paused')

    setVisibility('visible')
    await settle()
    expect(FakeWebSocket.sockets).toHaveLength(2)
    FakeWebSocket.last()!.open()
    expect(live().status.value).toBe('live')
    wrapper.unmount()
    expect(FakeWebSocket.last()!.closed).toBe(true)
  })

  it('a short glance away keeps the socket', async () => {
    const { wrapper } = host(ref('/ws/admin/monitoring'))
    await settle()
    FakeWebSocket.last()!.open()
    setVisibility('hidden')
    await vi.advanceTimersByTimeAsync(3_000)
    setVisibility('visible')
    await vi.advanceTimersByTimeAsync(30_000)
    expect(FakeWebSocket.sockets).toHaveLength(1)
    expect(FakeWebSocket.last()!.closed).toBe(false)
    wrapper.unmount()
  })

  it('follows its path: another machine, another socket; none without one', async () => {
    const path = ref<string | null>('/ws/customer/monitoring/a')
    const { wrapper, live } = host(path)
    await settle()
    expect(FakeWebSocket.last()!.url).toContain('/ws/customer/monitoring/a?ticket=test-ticket')
    expect(FakeWebSocket.last()!.url).not.toContain('test-access')
    path.value = '/ws/customer/monitoring/b'
    await nextTick()
    await settle()
    expect(FakeWebSocket.sockets[0]!.closed).toBe(true)
    expect(FakeWebSocket.last()!.url).toContain('/ws/customer/monitoring/b?')
    path.value = null
    await nextTick()
    await settle()
    expect(FakeWebSocket.last()!.closed).toBe(true)
    expect(live().status.value).toBe('idle')
    wrapper.unmount()
  })

  it('ends without a socket when the ticket is refused (the session is over)', async () => {
    vi.mocked(createWsTicket).mockRejectedValueOnce(new ApiError({ status: 401, message: 'session ended' }))
    const { wrapper, live } = host(ref('/ws/admin/monitoring'))
    await settle()
    expect(FakeWebSocket.sockets).toHaveLength(0)
    expect(live().status.value).toBe('ended')
    expect(live().endReason.value).toBe('session')
    wrapper.unmount()
  })
})
