import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Alert, FleetStats } from '@/api/types'
import { flushPromises, mountPage } from '@/test/mountPage'
import { FakeWebSocket, installFakeWebSocket } from '@/test/fakeWebSocket'
import { syntheticFleet } from '@/test/syntheticFleet'
import type { ChartOption } from '@/utils/echarts'

const chart = vi.hoisted(() => ({ setOption: vi.fn(), on: vi.fn(), resize: vi.fn(), dispose: vi.fn(), showLoading: vi.fn(), hideLoading: vi.fn() }))
vi.mock('@/utils/echarts', () => ({ echarts: { init: vi.fn(() => chart) } }))
vi.mock('@/api/dashboard', () => ({ getAdminDashboardStats: vi.fn(), getGpuTrend: vi.fn() }))
vi.mock('@/api/allocations', () => ({ recentAllocations: vi.fn(async () => []) }))
vi.mock('@/api/alerts', () => ({ listActiveAlerts: vi.fn(), acknowledgeAlert: vi.fn(), resolveAlert: vi.fn(), ignoreAlert: vi.fn() }))
vi.mock('@/utils/confirm', () => ({ confirmAction: vi.fn(async () => true) }))
vi.mock('@/api/ws', async (original) => ({
  ...(await original<typeof import('@/api/ws')>()),
  createWsTicket: vi.fn(async () => ({ ticket: 'test-ticket', expiresIn: 30 })),
}))
const dashboard = await import('@/api/dashboard')
const alertsApi = await import('@/api/alerts')
const { default: Page } = await import('./index.vue')

const stats: FleetStats = {
  machines: 10,
  online: 9,
  offline: 1,
  maintenance: 0,
  gpus: 80,
  avgGpuUtil: 47.25,
  allocated: 5,
  allocationRate: 0.5,
  expiring: 1,
  customers: 3,
  activeCustomers: 2,
  pendingCustomers: 0,
  runningTasks: 7,
  queuedTasks: 3,
}

const alert: Alert = {
  id: 'a1',
  machineId: 'm1',
  machineName: 'gpu-bj-001',
  region: '北京',
  gpuIndex: 3,
  type: 'gpu_temperature',
  level: 'critical',
  status: 'active',
  code: 'alerting.gpuTemperature',
  params: { gpu: 3, value: '90.0', threshold: 85, seconds: 60 },
  message: 'GPU 3 temperature 90.0 °C ≥ 85 °C for 60 s',
  value: 90,
  threshold: 85,
  durationSeconds: 60,
  handled: false,
  resolution: '',
  note: '',
  notificationQueued: true,
  startedAt: '2026-01-01T00:00:00Z',
  createdAt: '2026-01-01T00:01:00Z',
  updatedAt: '2026-01-01T00:01:00Z',
  acknowledgedAt: null,
  acknowledgedBy: '',
  resolvedAt: null,
  resolvedBy: '',
  resolvedValue: null,
}

const trendCalls = () => chart.setOption.mock.calls.map(([o]) => o as ChartOption)

describe('admin home', () => {
  beforeEach(() => {
    installFakeWebSocket()
    vi.mocked(dashboard.getAdminDashboardStats).mockResolvedValue(stats)
    vi.mocked(dashboard.getGpuTrend).mockImplementation(async ({ range }) => ({
      from: '2026-01-01T00:00:00Z',
      to: '2026-01-02T00:00:00Z',
      stepSeconds: 600,
      source: '1m',
      points: [
        { at: '2026-01-01T00:00:00Z', avg: range === '7d' ? 10 : 40.04, max: 90, gpus: 80 },
        { at: '2026-01-01T00:10:00Z', avg: 45, max: 95, gpus: 80 },
      ],
    }))
    vi.mocked(alertsApi.listActiveAlerts).mockResolvedValue({ list: [alert], counts: { total: 1, critical: 1, warning: 0, info: 0 } })
  })
  afterEach(() => vi.clearAllMocks())

  it('shows the average GPU utilisation, the trend for the chosen range and the open alerts', async () => {
    const { wrapper } = await mountPage(Page, '/admin/dashboard', { session: true })
    await flushPromises()
    expect(wrapper.find('[data-testid="stat-avgGpuUtil"]').text()).toContain('47.3')
    // 运行任务数, with the queued ones
    expect(wrapper.find('[data-testid="stat-runningTasks"]').text()).toMatch(/运行任务数\s*7\s*排队 3 个/)
    expect(dashboard.getGpuTrend).toHaveBeenCalledWith({ range: '24h' })
    const avg = (trendCalls().at(-1)!.series as { id: string; data: [string, number][] }[])[0]!
    expect(avg.id).toBe('avg')
    expect(avg.data[0]).toEqual(['2026-01-01T00:00:00Z', 40])

    await wrapper.findAll('[data-testid="gpu-trend-range"] input')[2]!.setValue(true)
    await flushPromises()
    expect(dashboard.getGpuTrend).toHaveBeenLastCalledWith({ range: '7d' })
    expect((trendCalls().at(-1)!.series as { data: [string, number][] }[])[0]!.data[0]![1]).toBe(10)

    const centre = wrapper.find('[data-testid="alert-centre"]')
    expect(centre.text()).toContain('gpu-bj-001')
    expect(centre.text()).toContain('GPU 3 温度 90.0 °C')
    expect(wrapper.find('[data-testid="quick-monitoring"]').exists()).toBe(true)
    wrapper.unmount()
  })

  it('acknowledges from the alert centre, and follows the live alert changes', async () => {
    vi.mocked(alertsApi.acknowledgeAlert).mockResolvedValue({ ...alert, status: 'acknowledged' })
    const { wrapper } = await mountPage(Page, '/admin/dashboard', { session: true })
    await flushPromises()
    expect(alertsApi.listActiveAlerts).toHaveBeenCalledTimes(1)
    await wrapper.find('[data-testid="alert-centre-acknowledge"]').trigger('click')
    await flushPromises()
    expect(alertsApi.acknowledgeAlert).toHaveBeenCalledWith('a1')
    expect(alertsApi.listActiveAlerts).toHaveBeenCalledTimes(2)

    // a snapshot whose open alerts differ asks for the list again, and updates the cards
    const socket = FakeWebSocket.last()!
    socket.open()
    socket.send({
      type: 'snapshot',
      at: '2026-01-01T00:02:00Z',
      machines: syntheticFleet(100, 8),
      statuses: [],
      alerts: [{ ...alert, id: 'a2' }],
      openAlerts: { total: 2, critical: 2, warning: 0, info: 0 },
    })
    await new Promise((r) => setTimeout(r, 50))
    await flushPromises()
    expect(alertsApi.listActiveAlerts).toHaveBeenCalledTimes(3)
    expect(wrapper.find('[data-testid="stat-online"]').text()).toContain('98')
    expect(wrapper.find('[data-testid="stat-avgGpuUtil"]').text()).toContain('含 34 台模拟 GPU')
    wrapper.unmount()
  })
})
