// The real-time page with a fleet of 1,000 machines × 8 GPUs: live frames
// are applied at most once per interval, into the same chart (never a new
// one), and the 8,000 figures are handed over as plain data, not Vue proxies.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { isProxy } from 'vue'
import { flushPromises, mountPage } from '@/test/mountPage'
import { FakeWebSocket, installFakeWebSocket } from '@/test/fakeWebSocket'
import type { ChartOption } from '@/utils/echarts'
import { syntheticFleet } from '@/test/syntheticFleet'

const chart = vi.hoisted(() => ({
  setOption: vi.fn(),
  on: vi.fn(),
  resize: vi.fn(),
  dispose: vi.fn(),
  showLoading: vi.fn(),
  hideLoading: vi.fn(),
}))
vi.mock('@/utils/echarts', () => ({ echarts: { init: vi.fn(() => chart) } }))
vi.mock('@/api/monitoring', () => ({ getAdminRealtime: vi.fn() }))
vi.mock('@/api/machines', () => ({
  getMachineOptions: vi.fn(async () => ({ regions: [{ code: 'beijing', name: '北京' }], gpuModels: [], statuses: [], allocationStatuses: [] })),
}))
const { echarts } = await import('@/utils/echarts')
const api = await import('@/api/monitoring')
const { default: RealtimePage } = await import('./index.vue')

const MACHINES = 1000
const GPUS = 8

/** The heat map's setOption calls (the page draws no other chart). */
const heatmapCalls = () =>
  chart.setOption.mock.calls.map(([o]) => o as ChartOption).filter((o) => (o.series as { id?: string }[] | undefined)?.[0]?.id === 'gpus')
const lastCells = () => (heatmapCalls().at(-1)!.series as { data: [number, number, number][] }[])[0]!.data

const frame = (seed: number) => ({
  type: 'snapshot',
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, seed)).toISOString(),
  machines: syntheticFleet(MACHINES, GPUS, seed),
  statuses: [],
  alerts: [],
  openAlerts: { total: 100, critical: 10, warning: 90, info: 0 },
})

describe('real-time monitoring page', () => {
  beforeEach(() => {
    installFakeWebSocket()
    vi.mocked(api.getAdminRealtime).mockResolvedValue({ list: syntheticFleet(MACHINES, GPUS, 0), total: MACHINES, page: 1, pageSize: 5000 })
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.clearAllMocks()
  })

  it('takes 1,000 × 8 live figures into one chart, throttled, without re-creating it', async () => {
    const { wrapper } = await mountPage(RealtimePage, '/admin/monitoring/realtime', { session: true })
    await flushPromises()

    expect(api.getAdminRealtime).toHaveBeenCalledWith({ page: 1, pageSize: 5000 })
    expect(echarts.init).toHaveBeenCalledTimes(1)
    expect(lastCells()).toHaveLength(MACHINES * GPUS)
    // plain data for the canvas: no reactive proxies around 8,000 cells
    expect(isProxy(lastCells())).toBe(false)
    expect(isProxy(lastCells()[0])).toBe(false)
    expect(wrapper.find('[data-testid="rt-count"]').text()).toContain('1000 / 1000')

    // the socket carries the access token; frames arrive faster than they are drawn
    const socket = FakeWebSocket.last()!
    expect(socket.url).toMatch(/\/ws\/admin\/monitoring\?token=test-access$/)
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'requestAnimationFrame', 'cancelAnimationFrame', 'Date'] })
    socket.open()
    const drawnBefore = heatmapCalls().length
    for (let seed = 1; seed <= 5; seed++) socket.send(frame(seed))
    await vi.advanceTimersByTimeAsync(100)
    await flushPromises()
    expect(heatmapCalls().length).toBe(drawnBefore + 1)
    for (let seed = 6; seed <= 10; seed++) socket.send(frame(seed))
    await vi.advanceTimersByTimeAsync(3000)
    await flushPromises()
    // five frames in a burst: one more draw, with the newest figures
    expect(heatmapCalls().length).toBe(drawnBefore + 2)
    const newest = syntheticFleet(MACHINES, GPUS, 10)
    expect(lastCells()[0]).toEqual([0, 0, newest[0]!.gpus![0]!.utilization])
    expect(lastCells()).toHaveLength(MACHINES * GPUS)

    // the same chart all along
    expect(echarts.init).toHaveBeenCalledTimes(1)
    expect(chart.dispose).not.toHaveBeenCalled()
    expect(wrapper.find('[data-testid="live-badge"]').attributes('data-status')).toBe('live')
    expect(wrapper.find('[data-testid="rt-stat-openAlerts"]').text()).toContain('100')

    wrapper.unmount()
    expect(chart.dispose).toHaveBeenCalledTimes(1)
    expect(socket.closed).toBe(true)
  })

  it('shows only the machines with alerts when asked, from the URL', async () => {
    const { wrapper } = await mountPage(RealtimePage, '/admin/monitoring/realtime?onlyAlerts=true&region=北京', { session: true })
    await flushPromises()
    // every tenth machine has an alert; the even ones are in 北京
    expect(wrapper.find('[data-testid="rt-count"]').text()).toContain('100 / 1000')
    expect(lastCells()).toHaveLength(100 * GPUS)
    wrapper.unmount()
  })
})
