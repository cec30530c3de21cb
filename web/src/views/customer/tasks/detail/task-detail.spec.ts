import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/http'
import type { TaskDetails } from '@/api/tasks'
import { MA, taskFixture } from '@/test/fixtures'
import { FakeWebSocket, installFakeWebSocket } from '@/test/fakeWebSocket'
import { flushPromises, mountPage } from '@/test/mountPage'

const chart = vi.hoisted(() => ({ setOption: vi.fn(), on: vi.fn(), resize: vi.fn(), dispose: vi.fn(), showLoading: vi.fn(), hideLoading: vi.fn() }))
vi.mock('@/utils/echarts', () => ({ echarts: { init: vi.fn(() => chart) } }))
vi.mock('@/api/http', async (original) => ({ ...(await original<typeof import('@/api/http')>()), sessionEnded: vi.fn() }))
vi.mock('@/api/ws', async (original) => ({
  ...(await original<typeof import('@/api/ws')>()),
  createWsTicket: vi.fn(async () => ({ ticket: 'test-ticket', expiresIn: 30 })),
}))
vi.mock('@/api/tasks', async (original) => ({
  ...(await original<typeof import('@/api/tasks')>()),
  getTaskDetails: vi.fn(),
  getTaskLogs: vi.fn(),
  getTaskMetrics: vi.fn(),
  listTaskOutputs: vi.fn(),
}))
const api = await import('@/api/tasks')
const { default: Page } = await import('./index.vue')

function details(over: Partial<TaskDetails> = {}): TaskDetails {
  return {
    ...taskFixture(),
    anyMachine: false,
    workDir: '/workspace',
    scriptPath: 'train.py',
    command: 'python train.py',
    env: [{ name: 'LR', value: '0.1' }],
    autoRestart: true,
    notifyInApp: true,
    notifyMail: false,
    checkpointIntervalSeconds: 600,
    servicePort: null,
    gpuSimulated: true,
    createdByName: 'Ann',
    firstAttempt: 1,
    attempts: [
      {
        attempt: 1,
        machineId: MA,
        machineName: 'gpu-a',
        gpus: [0, 1],
        queuedAt: '2026-01-01T00:00:00Z',
        startedAt: '2026-01-01T00:00:10Z',
        finishedAt: '2026-01-01T00:10:10Z',
        exitCode: 137,
        reason: 'tasks.reason.oomKilled',
        params: { code: 137 },
        container: 'rgpu-task-task-1-1',
        gpuDevices: false,
        logLines: 1200,
        durationSeconds: 600,
      },
      {
        attempt: 2,
        machineId: MA,
        machineName: 'gpu-a',
        gpus: [0, 1],
        queuedAt: '2026-01-01T00:10:20Z',
        startedAt: '2026-01-01T00:10:30Z',
        finishedAt: null,
        exitCode: null,
        reason: '',
        params: {},
        container: 'rgpu-task-task-1-2',
        gpuDevices: false,
        logLines: 1,
        durationSeconds: 0,
      },
    ],
    attempt: 2,
    ...over,
  }
}

describe('task detail page', () => {
  beforeEach(() => {
    installFakeWebSocket()
    vi.mocked(api.getTaskLogs).mockResolvedValue({ attempt: 2, attempts: 2, total: 1, lines: [{ n: 1, t: '2026-01-01T00:10:31Z', s: 'stdout', x: 'resumed from step 40' }] })
    vi.mocked(api.getTaskMetrics).mockResolvedValue({ from: '', to: '', stepSeconds: 5, source: 'raw', gpus: [] })
  })
  afterEach(() => {
    vi.clearAllMocks()
    document.body.innerHTML = ''
  })

  it('shows the task, says its GPUs are simulated, and follows the latest attempt’s log live', async () => {
    vi.mocked(api.getTaskDetails).mockResolvedValue(details())
    const { wrapper } = await mountPage(Page, '/customer/tasks/task-1', { session: true })
    await flushPromises()
    expect(wrapper.find('[data-testid="task-name"]').text()).toBe('resnet50')
    expect(wrapper.find('[data-testid="task-simulated"]').text()).toContain('容器没有分到 GPU 设备')
    expect(wrapper.find('[data-testid="task-status"]').attributes('data-status')).toBe('running')
    expect(wrapper.find('[data-testid="task-command"]').text()).toBe('python train.py')
    expect(wrapper.find('[data-testid="task-stop"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="task-restart"]').exists()).toBe(false)
    // no TensorBoard button: the developer tools do not exist yet
    expect(wrapper.text()).not.toMatch(/TensorBoard/i)

    expect(api.getTaskLogs).toHaveBeenCalledWith('task-1', { attempt: 2, limit: 5000 })
    const socket = FakeWebSocket.last()!
    expect(socket.url).toContain('/ws/customer/tasks/task-1/logs?attempt=2&afterN=1&ticket=test-ticket')
    socket.open()
    socket.send({ type: 'lines', attempt: 2, lines: [{ n: 2, t: '2026-01-01T00:10:32Z', s: 'stderr', x: 'step 41' }] })
    await new Promise((r) => setTimeout(r, 60))
    await flushPromises()
    const rows = wrapper.findAll('[data-testid="log-row"]').map((r) => r.text())
    expect(rows.join('\n')).toContain('resumed from step 40')
    expect(rows.join('\n')).toContain('step 41')
    wrapper.unmount()
  })

  it('lists the attempts with their exit codes and reasons, and shows an older attempt’s log', async () => {
    vi.mocked(api.getTaskDetails).mockResolvedValue(details())
    const { wrapper } = await mountPage(Page, '/customer/tasks/task-1?tab=attempts', { session: true })
    await flushPromises()
    const table = wrapper.find('[data-testid="attempt-table"]')
    expect(table.text()).toContain('137')
    expect(table.text()).toContain('内存不足，进程被系统终止（退出码 137）')
    const buttons = table.findAll('.el-table__body-wrapper button')
    await buttons[buttons.length - 1].trigger('click') // attempt 1 (the table lists the latest first)
    await flushPromises()
    expect(api.getTaskLogs).toHaveBeenLastCalledWith('task-1', { attempt: 1, limit: 5000 })
    wrapper.unmount()
  })

  it('says clearly when the host cannot be reached for the outputs', async () => {
    vi.mocked(api.getTaskDetails).mockResolvedValue(details({ status: 'failed', statusReason: 'tasks.reason.hostLost', finishedAt: '2026-01-01T01:00:00Z' }))
    vi.mocked(api.listTaskOutputs).mockRejectedValue(
      new ApiError({ status: 503, message: 'host unreachable', data: { reason: 'tasks.hostUnreachable' } }),
    )
    const { wrapper } = await mountPage(Page, '/customer/tasks/task-1?tab=outputs', { session: true })
    await flushPromises()
    expect(wrapper.find('[data-testid="task-reason"]').text()).toBe('与主机失去联系')
    expect(wrapper.find('[data-testid="task-outputs-unreachable"]').text()).toContain('暂时无法访问主机')
    expect(wrapper.find('[data-testid="task-restart"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="task-delete"]').attributes('disabled')).toBeUndefined()
    wrapper.unmount()
  })

  it('says the task is gone when its log socket closes with 4404', async () => {
    vi.mocked(api.getTaskDetails).mockResolvedValue(details())
    const { wrapper } = await mountPage(Page, '/customer/tasks/task-1', { session: true })
    await flushPromises()
    const socket = FakeWebSocket.last()!
    socket.open()
    vi.mocked(api.getTaskDetails).mockRejectedValue(new ApiError({ status: 404, message: 'not found', data: { reason: 'tasks.notFound' } }))
    socket.drop(4404, 'task deleted')
    await flushPromises()
    expect(wrapper.text()).toContain('任务不存在，或已被删除')
    await new Promise((r) => setTimeout(r, 1200))
    expect(FakeWebSocket.sockets).toHaveLength(1)
    wrapper.unmount()
  })

  it('says when the task does not exist', async () => {
    vi.mocked(api.getTaskDetails).mockRejectedValue(new ApiError({ status: 404, message: 'not found', data: { reason: 'tasks.notFound' } }))
    const { wrapper } = await mountPage(Page, '/customer/tasks/nope', { session: true })
    await flushPromises()
    expect(wrapper.text()).toContain('任务不存在，或已被删除')
    wrapper.unmount()
  })
})
