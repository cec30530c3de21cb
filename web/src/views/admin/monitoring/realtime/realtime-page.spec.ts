// The real-time page with a fleet of 1,000 machines × 8 GPUs: live frames
// are applied at most once per interval, repainting the same canvas (never a
// new chart or an element per cell), from plain data rather than Vue proxies.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { isProxy } from 'vue'
import { flushPromises, mountPage } from '@/test/mountPage'
import { FakeWebSocket, installFakeWebSocket } from '@/test/fakeWebSocket'
import { syntheticFleet } from '@/test/syntheticFleet'
import { heatColour } from '../components/heatmapLayout'

vi.mock('@/api/monitoring', () => ({ getAdminRealtime: vi.fn() }))
vi.mock('@/api/machines', () => ({
  getMachineOptions: vi.fn(async () => ({ regions: [{ code: 'beijing', name: '北京' }], gpuModels: [], statuses: [], allocationStatuses: [] })),
}))
vi.mock('@/api/ws', async (original) => ({
  ...(await original<typeof import('@/api/ws')>()),
  createWsTicket: vi.fn(async () => ({ ticket: 'test-ticket', expiresIn: 30 })),
}))
const api = await import('@/api/monitoring')
const { default: RealtimePage } = await import('./index.vue')

const MACHINES = 1000
const GPUS = 8

/** A 2D context that counts what is painted (happy-dom has no canvas). */
function fakeContext() {
  const painted: { fill: string }[][] = []
  let current: { fill: string }[] = []
  const ctx = {
    fillStyle: '',
    font: '',
    textBaseline: '',
    setTransform: vi.fn(),
    clearRect: vi.fn(() => {
      current = []
      painted.push(current)
    }),
    fillRect: vi.fn(() => current.push({ fill: ctx.fillStyle })),
    fillText: vi.fn(),
  }
  return { ctx, painted }
}

const frame = (seed: number) => ({
  type: 'snapshot',
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, seed)).toISOString(),
  machines: syntheticFleet(MACHINES, GPUS, seed),
  statuses: [],
  alerts: [],
  openAlerts: { total: 100, critical: 10, warning: 90, info: 0 },
})

describe('real-time monitoring page', () => {
  let paint: ReturnType<typeof fakeContext>
  let getContext: ReturnType<typeof vi.fn>
  beforeEach(() => {
    installFakeWebSocket()
    paint = fakeContext()
    getContext = vi.fn(() => paint.ctx)
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(getContext as never)
    vi.mocked(api.getAdminRealtime).mockResolvedValue({ list: syntheticFleet(MACHINES, GPUS, 0), total: MACHINES, page: 1, pageSize: 5000 })
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.clearAllMocks()
  })

  it('paints 1,000 × 8 live figures on one canvas, throttled, never re-creating it', async () => {
    const { wrapper } = await mountPage(RealtimePage, '/admin/monitoring/realtime', { session: true })
    await flushPromises()

    expect(api.getAdminRealtime).toHaveBeenCalledWith({ page: 1, pageSize: 5000 })
    const canvas = wrapper.find('[data-testid="gpu-heatmap"] canvas').element
    expect(wrapper.find('[data-testid="gpu-heatmap"]').attributes('data-cells')).toBe(String(MACHINES * GPUS))
    expect(paint.painted.at(-1)).toHaveLength(MACHINES * GPUS)
    expect(wrapper.find('[data-testid="rt-count"]').text()).toContain('1000 / 1000')

    // the socket carries the access token; frames arrive faster than they are painted
    const socket = FakeWebSocket.last()!
    expect(socket.url).toMatch(/\/ws\/admin\/monitoring\?ticket=test-ticket$/)
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'requestAnimationFrame', 'cancelAnimationFrame', 'Date'] })
    socket.open()
    const before = paint.painted.length
    for (let seed = 1; seed <= 5; seed++) socket.send(frame(seed))
    await vi.advanceTimersByTimeAsync(100)
    await flushPromises()
    expect(paint.painted.length).toBe(before + 1)
    for (let seed = 6; seed <= 10; seed++) socket.send(frame(seed))
    await vi.advanceTimersByTimeAsync(3000)
    await flushPromises()
    // a burst of five frames: one more paint, of the newest figures
    expect(paint.painted.length).toBe(before + 2)
    const newest = syntheticFleet(MACHINES, GPUS, 10)
    expect(paint.painted.at(-1)).toHaveLength(MACHINES * GPUS)
    expect(paint.painted.at(-1)![0]!.fill).toBe(heatColour(newest[0]!.gpus![0]!.utilization))

    // the same canvas and context all along; the snapshot is plain data
    expect(wrapper.find('[data-testid="gpu-heatmap"] canvas').element).toBe(canvas)
    expect(getContext).toHaveBeenCalledTimes(1)
    const vm = wrapper.findComponent({ name: 'GpuHeatmap' })
    const model = vm.props('model') as { machines: unknown[]; cells: unknown[] }
    expect(isProxy(model.machines)).toBe(false)
    expect(isProxy(model.machines[0])).toBe(false)
    expect(isProxy(model.cells)).toBe(false)

    expect(wrapper.find('[data-testid="live-badge"]').attributes('data-status')).toBe('live')
    expect(wrapper.find('[data-testid="rt-stat-openAlerts"]').text()).toContain('100')
    wrapper.unmount()
    expect(socket.closed).toBe(true)
  })

  it('shows only the machines with alerts when asked, from the URL', async () => {
    const { wrapper } = await mountPage(RealtimePage, '/admin/monitoring/realtime?onlyAlerts=true&region=北京', { session: true })
    await flushPromises()
    // every tenth machine has an alert; the even ones are in 北京
    expect(wrapper.find('[data-testid="rt-count"]').text()).toContain('100 / 1000')
    expect(paint.painted.at(-1)).toHaveLength(100 * GPUS)
    wrapper.unmount()
  })
})
