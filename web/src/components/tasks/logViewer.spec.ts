import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h, nextTick, ref } from 'vue'
import { flushPromises, mount } from '@vue/test-utils'
import type { TaskLogLine, TaskLogPage, TaskLogParams, TaskStatus } from '@/api/tasks'
import { i18n } from '@/locales'
import { FakeWebSocket, installFakeWebSocket } from '@/test/fakeWebSocket'
import { storeSession } from '@/test/mountPage'

vi.mock('@/api/http', async (original) => ({ ...(await original<typeof import('@/api/http')>()), sessionEnded: vi.fn() }))
vi.mock('@/api/ws', async (original) => ({
  ...(await original<typeof import('@/api/ws')>()),
  createWsTicket: vi.fn(async () => ({ ticket: 'test-ticket', expiresIn: 30 })),
}))
const { LogBuffer, ROW_HEIGHT } = await import('./logBuffer')
const { default: LogViewer } = await import('./LogViewer.vue')
const { useTaskLogs, LOG_PAGE } = await import('./useTaskLogs')
const { wsTaskLogs } = await import('@/api/tasks')

const line = (n: number, x = `step ${n} loss 0.${n}`): TaskLogLine => ({ n, t: '2026-01-01T00:00:00Z', s: 'stdout', x })
const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => line(from + i))
/** a few animation frames */
const frames = () => new Promise((r) => setTimeout(r, 60))

/** happy-dom lays nothing out: give the viewer's box the sizes a browser would. */
function layOut(el: HTMLElement, rows: () => number, clientHeight = 480) {
  Object.defineProperty(el, 'clientHeight', { configurable: true, get: () => clientHeight })
  Object.defineProperty(el, 'scrollHeight', { configurable: true, get: () => rows() * ROW_HEIGHT })
  let top = 0
  Object.defineProperty(el, 'scrollTop', {
    configurable: true,
    get: () => top,
    set: (v: number) => {
      top = Math.max(0, Math.min(v, rows() * ROW_HEIGHT - clientHeight))
    },
  })
}

describe('LogViewer', () => {
  it('renders only the rows in view of 100,000 lines, and the ones at the scroll position', async () => {
    const buffer = new LogBuffer()
    buffer.append(lines(1, 100_000))
    const following = ref(false)
    const w = mount(LogViewer, {
      props: { buffer, version: 1, following: following.value, 'onUpdate:following': (v: boolean) => (following.value = v) },
      attachTo: document.body,
    })
    const box = w.find('[data-testid="log-viewer"]').element as HTMLElement
    layOut(box, () => buffer.size)
    expect(box.getAttribute('data-lines')).toBe('100000')
    let rows = w.findAll('[data-testid="log-row"]')
    expect(rows.length).toBeGreaterThan(20)
    expect(rows.length).toBeLessThan(60)
    expect(rows[0].text()).toContain('step 1 ')

    box.scrollTop = 50_000 * ROW_HEIGHT
    await w.find('[data-testid="log-viewer"]').trigger('scroll')
    rows = w.findAll('[data-testid="log-row"]')
    expect(rows.length).toBeLessThan(60)
    expect(rows.map((r) => r.text()).join('\n')).toContain('step 50001 ')
    w.unmount()
  })

  it('follows the end as lines come, pauses when scrolled up, follows again at the end', async () => {
    const buffer = new LogBuffer()
    buffer.append(lines(1, 1000))
    const following = ref(true)
    const w = mount(LogViewer, {
      props: { buffer, version: 1, following: true, 'onUpdate:following': (v: boolean) => (following.value = v) },
      attachTo: document.body,
    })
    const el = w.find('[data-testid="log-viewer"]')
    const box = el.element as HTMLElement
    layOut(box, () => buffer.size)

    buffer.append(lines(1001, 2000))
    await w.setProps({ version: 2 })
    await nextTick()
    expect(box.scrollTop).toBe(2000 * ROW_HEIGHT - 480)
    await nextTick()
    expect(w.findAll('[data-testid="log-row"]').at(-1)?.text()).toContain('step 2000 ')

    // the user scrolls up: paused, and new lines leave the view where it is
    box.scrollTop = 500 * ROW_HEIGHT
    await el.trigger('scroll')
    expect(following.value).toBe(false)
    await w.setProps({ following: false })
    buffer.append(lines(2001, 2500))
    await w.setProps({ version: 3 })
    await nextTick()
    expect(box.scrollTop).toBe(500 * ROW_HEIGHT)

    // back down to the end: following again
    box.scrollTop = 2500 * ROW_HEIGHT
    await el.trigger('scroll')
    expect(following.value).toBe(true)
    w.unmount()
  })

  it('keeps the rows in view still while paused and the oldest lines leave the buffer', async () => {
    const buffer = new LogBuffer(1000)
    buffer.append(lines(1, 1000))
    const w = mount(LogViewer, { props: { buffer, version: 1, following: false }, attachTo: document.body })
    const el = w.find('[data-testid="log-viewer"]')
    const box = el.element as HTMLElement
    layOut(box, () => buffer.size)
    box.scrollTop = 600 * ROW_HEIGHT
    await el.trigger('scroll')
    const before = w.findAll('[data-testid="log-row"]').map((r) => r.text())

    buffer.append(lines(1001, 1100)) // 100 lines leave the top
    await w.setProps({ version: 2 })
    await nextTick()
    expect(box.scrollTop).toBe(500 * ROW_HEIGHT)
    await el.trigger('scroll')
    expect(w.findAll('[data-testid="log-row"]').map((r) => r.text())).toEqual(before)
    w.unmount()
  })

  it('marks the search in each row', () => {
    const buffer = new LogBuffer()
    buffer.append([line(1, 'Resumed from step 40'), line(2, 'nothing')])
    const w = mount(LogViewer, { props: { buffer, version: 1, highlight: 'resumed' } })
    expect(w.findAll('mark').map((m) => m.text())).toEqual(['Resumed'])
    w.unmount()
  })
})

describe('useTaskLogs', () => {
  beforeEach(() => {
    installFakeWebSocket()
    storeSession()
  })
  afterEach(() => {
    vi.clearAllMocks()
  })

  function host(page: (p: TaskLogParams) => Promise<TaskLogPage>, opts: { withSocket?: boolean } = {}) {
    const status = ref<TaskStatus | null>(null)
    const latest = ref(0)
    const onStatus = vi.fn()
    const onNewAttempt = vi.fn()
    let logs!: ReturnType<typeof useTaskLogs>
    const Host = defineComponent({
      setup() {
        logs = useTaskLogs({
          source: {
            page,
            download: vi.fn(),
            socketPath: opts.withSocket === false ? undefined : (p) => wsTaskLogs('t1', p),
          },
          status,
          latestAttempt: latest,
          fileName: () => 'task',
          onStatus,
          onNewAttempt,
          pollMs: 50,
          quietCloseMs: 50,
        })
        return () => h('div')
      },
    })
    const w = mount(Host, { global: { plugins: [i18n] } })
    return { w, status, latest, onStatus, onNewAttempt, logs: () => logs }
  }

  it('reads the backlog, then follows the socket from after it, each line once', async () => {
    const page = vi.fn(async (p: TaskLogParams) => ({ attempt: p.attempt ?? 1, attempts: 1, total: 3, lines: p.afterN ? [] : lines(1, 3) }))
    const { w, status, latest, logs } = host(page)
    expect(page).not.toHaveBeenCalled()

    status.value = 'running'
    latest.value = 1
    await flushPromises()
    expect(page).toHaveBeenCalledWith({ attempt: 1, limit: LOG_PAGE })
    const socket = FakeWebSocket.last()!
    expect(socket.url).toContain('/ws/customer/tasks/t1/logs?attempt=1&afterN=3&ticket=test-ticket')
    socket.open()
    socket.send({ type: 'lines', attempt: 1, lines: lines(3, 6) })
    socket.send({ type: 'lines', attempt: 1, lines: lines(7, 8) })
    await frames()
    expect(logs().buffer.slice(0, 100).map((l) => l.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    w.unmount()
  })

  it('passes status frames on, and asks for the task again when a newer attempt speaks', async () => {
    const page = vi.fn(async () => ({ attempt: 1, attempts: 1, total: 0, lines: [] }))
    const { w, status, latest, onStatus, onNewAttempt, logs } = host(page)
    status.value = 'running'
    latest.value = 1
    await flushPromises()
    const socket = FakeWebSocket.last()!
    socket.open()
    socket.send({ type: 'status', status: 'queued' })
    socket.send({ type: 'lines', attempt: 2, lines: lines(1, 2) })
    await frames()
    expect(onStatus).toHaveBeenCalledWith('queued')
    expect(onNewAttempt).toHaveBeenCalledWith(2)
    // lines of another attempt are not mixed into the one shown
    expect(logs().buffer.size).toBe(0)

    // the page learnt of attempt 2: its log from the start, on a new socket
    latest.value = 2
    await flushPromises()
    expect(page).toHaveBeenLastCalledWith({ attempt: 2, limit: LOG_PAGE })
    expect(FakeWebSocket.last()!.url).toContain('attempt=2')
    expect(socket.closed).toBe(true)
    w.unmount()
  })

  it('closes the socket of an ended task once it has gone quiet', async () => {
    const page = vi.fn(async () => ({ attempt: 1, attempts: 1, total: 2, lines: lines(1, 2) }))
    const { w, status, latest, logs } = host(page)
    status.value = 'succeeded'
    latest.value = 1
    await flushPromises()
    const socket = FakeWebSocket.last()!
    socket.open()
    expect(logs().socketOpen.value).toBe(true)
    await new Promise((r) => setTimeout(r, 80))
    expect(logs().socketOpen.value).toBe(false)
    expect(socket.closed).toBe(true)
    w.unmount()
  })

  it('searches on the server and shows the matches instead of the log; clearing goes back', async () => {
    const page = vi.fn(async (p: TaskLogParams) =>
      p.q
        ? { attempt: 1, attempts: 1, total: 3, lines: [line(40, 'resumed from step 40')] }
        : { attempt: 1, attempts: 1, total: 3, lines: lines(1, 3) },
    )
    const { w, status, latest, logs } = host(page)
    status.value = 'running'
    latest.value = 1
    await flushPromises()
    const l = logs()
    l.query.value = ' resumed '
    await l.search()
    await flushPromises()
    expect(page).toHaveBeenLastCalledWith({ q: 'resumed', attempt: 1, limit: LOG_PAGE })
    expect(l.searched.value).toBe('resumed')
    expect(l.following.value).toBe(false)
    expect(l.buffer.slice(0, 10).map((x) => x.n)).toEqual([40])
    expect(l.socketOpen.value).toBe(false)

    await l.clearSearch()
    await flushPromises()
    expect(l.searched.value).toBe('')
    expect(l.following.value).toBe(true)
    expect(l.buffer.slice(0, 10).map((x) => x.n)).toEqual([1, 2, 3])
    expect(l.socketOpen.value).toBe(true)
    w.unmount()
  })

  it('reads a log longer than the cap from its last lines, and says the earlier ones are not shown', async () => {
    const total = 250_000
    const page = vi.fn(async (p: TaskLogParams) => {
      const from = (p.afterN ?? 0) + 1
      return { attempt: 1, attempts: 1, total, lines: lines(from, Math.min(total, from + (p.limit ?? 5000) - 1)) }
    })
    const { w, status, latest, logs } = host(page)
    status.value = 'running'
    latest.value = 1
    await flushPromises()
    const l = logs()
    // the first page, then on from 150,000: the socket sends the rest
    expect(l.buffer.size).toBe(0)
    expect(l.buffer.lastN).toBe(150_000)
    expect(l.dropped.value).toBe(150_000)
    expect(FakeWebSocket.last()!.url).toContain('afterN=150000')
    w.unmount()
  })

  it('without a socket (the admin) reads every page, then polls until the task has ended', async () => {
    let stored = lines(1, LOG_PAGE + 10)
    const page = vi.fn(async (p: TaskLogParams) => ({
      attempt: 1,
      attempts: 1,
      total: stored.length,
      lines: stored.filter((x) => x.n > (p.afterN ?? 0)).slice(0, p.limit),
    }))
    const { w, status, latest, logs } = host(page, { withSocket: false })
    status.value = 'running'
    latest.value = 1
    await flushPromises()
    await new Promise((r) => setTimeout(r, 20))
    await flushPromises()
    // a full page, then at once the rest
    expect(logs().buffer.size).toBe(LOG_PAGE + 10)
    expect(FakeWebSocket.sockets).toHaveLength(0)

    stored = lines(1, LOG_PAGE + 12)
    await new Promise((r) => setTimeout(r, 70))
    await flushPromises()
    expect(logs().buffer.lastN).toBe(LOG_PAGE + 12)

    status.value = 'succeeded'
    await new Promise((r) => setTimeout(r, 70))
    await flushPromises()
    const calls = page.mock.calls.length
    await new Promise((r) => setTimeout(r, 150))
    expect(page.mock.calls.length).toBe(calls)
    w.unmount()
  })
})
