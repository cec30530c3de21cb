import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { MachineRealtime } from '@/api/types'
import { flushPromises, mountPage } from '@/test/mountPage'
import { FakeWebSocket, installFakeWebSocket } from '@/test/fakeWebSocket'

const chart = vi.hoisted(() => ({ setOption: vi.fn(), on: vi.fn(), resize: vi.fn(), dispose: vi.fn(), showLoading: vi.fn(), hideLoading: vi.fn() }))
vi.mock('@/utils/echarts', () => ({ echarts: { init: vi.fn(() => chart) } }))
vi.mock('@/api/monitoring', () => ({
  getMyMachineMonitoring: vi.fn(),
  getMyMachineRealtime: vi.fn(),
  getMyMachineProcesses: vi.fn(),
}))
vi.mock('@/api/myMachines', () => ({ getMyMachinesSummary: vi.fn() }))
vi.mock('@/api/http', async (original) => ({ ...(await original<typeof import('@/api/http')>()), sessionEnded: vi.fn() }))
vi.mock('@/api/ws', async (original) => ({
  ...(await original<typeof import('@/api/ws')>()),
  createWsTicket: vi.fn(async () => ({ ticket: 'test-ticket', expiresIn: 30 })),
}))
const api = await import('@/api/monitoring')
const { getMyMachinesSummary } = await import('@/api/myMachines')
const { sessionEnded } = await import('@/api/http')
const { default: Page } = await import('./index.vue')

const A = '3f0c2a52-0d47-4f0e-9a3a-1f0b2c3d4e5f'
const B = '4f0c2a52-0d47-4f0e-9a3a-1f0b2c3d4e5f'

const realtime = (id: string, at: string, pid: number): MachineRealtime => ({
  machineId: id,
  name: id === A ? 'gpu-a' : 'gpu-b',
  status: 'online',
  gpuSource: 'simulated',
  lastSeenAt: at,
  sampleAt: at,
  gpuUtil: 42,
  gpuMemPct: 10,
  gpus: [{ index: 0, utilization: 42, memUsedMib: 4096, memTotalMib: 81920, tempC: 70, powerW: 250, powerLimitW: 400 }],
  host: { cpuPct: 11, memPct: 21, memUsedMib: 1, memTotalMib: 2, diskPct: 31, disks: [], diskReadBps: 5, diskWriteBps: 6, netRxBps: 7, netTxBps: 8, load1: 1 },
  processes: [{ pid, name: `python train-${pid}.py`, gpuIndex: 0, memUsedMib: 2048 }],
})

describe('customer real-time monitoring', () => {
  beforeEach(() => {
    installFakeWebSocket()
    vi.mocked(getMyMachinesSummary).mockResolvedValue([
      { id: A, name: 'gpu-a', status: 'online', gpuCount: 1, gpuModel: 'A100', gpuUtil: null, endAt: null, command: '' },
      { id: B, name: 'gpu-b', status: 'online', gpuCount: 1, gpuModel: 'A100', gpuUtil: null, endAt: null, command: '' },
    ])
    vi.mocked(api.getMyMachineMonitoring).mockImplementation(async (id) => ({
      machineId: id,
      from: '2026-01-01T00:00:00Z',
      to: '2026-01-01T01:00:00Z',
      stepSeconds: 5,
      source: 'raw',
      gpus: [],
      host: [],
    }))
    vi.mocked(api.getMyMachineRealtime).mockImplementation(async (id) => realtime(id, '2026-01-01T00:59:55Z', 100))
    vi.mocked(api.getMyMachineProcesses).mockResolvedValue({ sampleAt: '2026-01-01T00:59:55Z', list: realtime(A, '', 100).processes })
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.clearAllMocks()
  })

  it('watches the machine of the URL, live, and marks simulated GPU figures', async () => {
    const { wrapper } = await mountPage(Page, `/customer/monitoring/realtime?machine=${B}`, { session: true })
    await flushPromises()
    expect(api.getMyMachineMonitoring).toHaveBeenCalledWith(B, { range: '1h' })
    const socket = FakeWebSocket.last()!
    expect(socket.url).toContain(`/ws/customer/monitoring/${B}?ticket=test-ticket`)
    expect(wrapper.find('[data-testid="process-table"]').text()).toContain('python train-100.py')
    expect(wrapper.findAll('[data-testid="simulated-tag"]').length).toBeGreaterThan(0)

    socket.open()
    socket.send({ type: 'realtime', at: '2026-01-01T01:00:00Z', data: realtime(B, '2026-01-01T01:00:00Z', 200) })
    await new Promise((r) => setTimeout(r, 1100))
    await flushPromises()
    expect(wrapper.find('[data-testid="process-table"]').text()).toContain('python train-200.py')
    expect(wrapper.find('[data-testid="live-badge"]').attributes('data-status')).toBe('live')
    wrapper.unmount()
  })

  it('says the lease ended on a 4403 close and does not reconnect', async () => {
    const { wrapper } = await mountPage(Page, '/customer/monitoring/realtime', { session: true })
    await flushPromises()
    const socket = FakeWebSocket.last()!
    expect(socket.url).toContain(`/ws/customer/monitoring/${A}?`)
    socket.open()
    socket.drop(4403, 'allocation ended')
    await flushPromises()
    expect(wrapper.find('[data-testid="lease-ended"]').text()).toContain('租期已结束')
    expect(wrapper.find('[data-testid="live-badge"]').text()).toContain('租期已结束')
    await new Promise((r) => setTimeout(r, 1500))
    expect(FakeWebSocket.sockets).toHaveLength(1)
    expect(sessionEnded).not.toHaveBeenCalled()
    wrapper.unmount()
  })

  it('ends the session on a 4401 close', async () => {
    const { wrapper } = await mountPage(Page, '/customer/monitoring/realtime', { session: true })
    await flushPromises()
    const socket = FakeWebSocket.last()!
    socket.open()
    socket.drop(4401, 'session ended')
    await flushPromises()
    expect(sessionEnded).toHaveBeenCalledTimes(1)
    wrapper.unmount()
  })
})
