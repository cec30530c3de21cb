import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Task } from '@/api/tasks'
import { taskFixture, MA, MB } from '@/test/fixtures'
import { flushPromises, mountPage } from '@/test/mountPage'

vi.mock('@/api/tasks', async (original) => ({
  ...(await original<typeof import('@/api/tasks')>()),
  listTasks: vi.fn(),
  listAvailableMachines: vi.fn(async () => []),
  stopTask: vi.fn(async () => undefined),
  restartTask: vi.fn(async () => undefined),
  deleteTask: vi.fn(async () => undefined),
}))
const api = await import('@/api/tasks')
const { groupByMachine, tabOfPath, tabParams } = await import('./useTaskList')
const { default: Page } = await import('./index.vue')

const page = (list: Task[]) => ({ list, total: list.length, page: 1, pageSize: 12 })
const filters = { machineId: '', status: '', q: '' }

describe('task list: tabs and their filters', () => {
  it('knows each tab by its path', () => {
    expect(tabOfPath('/customer/tasks/list')).toBe('training')
    expect(tabOfPath('/customer/tasks/inference')).toBe('inference')
    expect(tabOfPath('/customer/tasks/queue')).toBe('queue')
    expect(tabOfPath('/customer/tasks/history')).toBe('history')
  })

  it('asks the API for the tab’s tasks', () => {
    expect(tabParams('training', { ...filters, q: ' res ' })).toEqual({ type: 'training', status: undefined, machineId: undefined, q: 'res' })
    expect(tabParams('inference', { ...filters, status: 'running', machineId: MA })).toEqual({
      type: 'inference',
      status: 'running',
      machineId: MA,
      q: undefined,
    })
    expect(tabParams('queue', filters)).toEqual({ tab: 'queue', status: 'queued', machineId: undefined, q: undefined })
    // history: the ended ones, or one of them
    expect(tabParams('history', filters).status).toBe('succeeded,failed,stopped')
    expect(tabParams('history', { ...filters, status: 'failed' }).status).toBe('failed')
    // a status the tab does not offer (from an old link) is ignored
    expect(tabParams('history', { ...filters, status: 'running' }).status).toBe('succeeded,failed,stopped')
  })

  it('groups the queue by machine, keeping the order', () => {
    const q = [
      taskFixture({ id: '1', machineId: MA, queuePosition: 1 }),
      taskFixture({ id: '2', machineId: MA, queuePosition: 2 }),
      taskFixture({ id: '3', machineId: MB, machineName: 'gpu-b', queuePosition: 1 }),
    ]
    expect(groupByMachine(q).map((g) => [g.machineName, g.tasks.map((t) => t.id)])).toEqual([
      ['gpu-a', ['1', '2']],
      ['gpu-b', ['3']],
    ])
  })
})

describe('task list page', () => {
  beforeEach(() => {
    vi.mocked(api.listTasks).mockReset()
  })
  afterEach(() => {
    document.body.innerHTML = ''
    vi.useRealTimers()
  })

  it('shows each task with its translated status, attempt, GPU use and what can be done with it', async () => {
    vi.mocked(api.listTasks).mockResolvedValue(
      page([
        taskFixture({ id: 'r', name: 'running-one' }),
        taskFixture({
          id: 'f',
          name: 'failed-one',
          status: 'failed',
          statusReason: 'tasks.reason.oomKilled',
          statusParams: { code: 137 },
          finishedAt: '2026-01-01T01:00:00Z',
          durationSeconds: 3725,
          attempt: 3,
          gpuUtil: null,
        }),
      ]),
    )
    const { wrapper } = await mountPage(Page, '/customer/tasks/list')
    expect(api.listTasks).toHaveBeenCalledWith({ page: 1, pageSize: 12, sortBy: undefined, order: undefined, type: 'training' }, false)
    const running = wrapper.find('[data-testid="task-card-running-one"]')
    expect(running.find('[data-testid="task-card-status"]').text()).toBe('运行中')
    expect(running.text()).toContain('第 1 / 3 次')
    expect(running.find('[data-testid="task-card-util"]').text()).toContain('87%')
    expect(running.find('[data-testid="task-card-stop"]').exists()).toBe(true)
    expect(running.find('[data-testid="task-card-restart"]').exists()).toBe(false)
    expect(running.find('[data-testid="task-card-delete"]').attributes('disabled')).toBeDefined()

    const failed = wrapper.find('[data-testid="task-card-failed-one"]')
    expect(failed.find('[data-testid="task-card-status"]').text()).toBe('失败')
    expect(failed.find('[data-testid="task-card-reason"]').text()).toBe('内存不足，进程被系统终止（退出码 137）')
    expect(failed.text()).toContain('1小时02分')
    expect(failed.find('[data-testid="task-card-stop"]').exists()).toBe(false)
    expect(failed.find('[data-testid="task-card-restart"]').exists()).toBe(true)
    expect(failed.find('[data-testid="task-card-delete"]').attributes('disabled')).toBeUndefined()
    wrapper.unmount()
  })

  it('lists the queue by machine with each task’s place', async () => {
    vi.mocked(api.listTasks).mockResolvedValue(
      page([
        taskFixture({ id: '1', name: 'first', status: 'queued', queuePosition: 1, startedAt: null }),
        taskFixture({ id: '2', name: 'second', status: 'queued', queuePosition: 2, startedAt: null }),
        taskFixture({ id: '3', name: 'other', status: 'queued', queuePosition: 1, machineId: MB, machineName: 'gpu-b', startedAt: null }),
      ]),
    )
    const { wrapper } = await mountPage(Page, '/customer/tasks/queue')
    expect(vi.mocked(api.listTasks).mock.calls[0][0]).toMatchObject({ tab: 'queue', status: 'queued' })
    expect(wrapper.find('[data-testid="queue-gpu-a"]').text()).toContain('2 个排队')
    expect(wrapper.find('[data-testid="task-card-second"] [data-testid="task-card-position"]').text()).toBe('第 2 位')
    expect(wrapper.find('[data-testid="queue-gpu-b"] [data-testid="task-card-position"]').text()).toBe('第 1 位')
    // the queue has no status filter
    expect(wrapper.find('[data-testid="task-filter-status"]').exists()).toBe(false)
    wrapper.unmount()
  })

  it('says so when a tab is empty, and when the list cannot be loaded', async () => {
    vi.mocked(api.listTasks).mockResolvedValueOnce(page([]))
    const first = await mountPage(Page, '/customer/tasks/history')
    expect(vi.mocked(api.listTasks).mock.calls[0][0].status).toBe('succeeded,failed,stopped')
    expect(first.wrapper.text()).toContain('还没有结束的任务')
    first.wrapper.unmount()

    vi.mocked(api.listTasks).mockRejectedValueOnce(new Error('down'))
    const second = await mountPage(Page, '/customer/tasks/inference')
    expect(second.wrapper.find('[data-testid="task-list-error"]').text()).toContain('加载失败')
    second.wrapper.unmount()
  })

  it('refreshes every 5 s while a task is queued or running, quietly', async () => {
    vi.useFakeTimers()
    vi.mocked(api.listTasks).mockResolvedValue(page([taskFixture()]))
    const { wrapper } = await mountPage(Page, '/customer/tasks/list')
    expect(api.listTasks).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(5000)
    expect(api.listTasks).toHaveBeenCalledTimes(2)
    expect(vi.mocked(api.listTasks).mock.calls[1][1]).toBe(true)

    // everything ended: no more refreshes
    vi.mocked(api.listTasks).mockResolvedValue(page([taskFixture({ status: 'succeeded' })]))
    await vi.advanceTimersByTimeAsync(5000)
    await flushPromises()
    const calls = vi.mocked(api.listTasks).mock.calls.length
    await vi.advanceTimersByTimeAsync(20_000)
    expect(api.listTasks).toHaveBeenCalledTimes(calls)
    wrapper.unmount()
  })

  it('stops a task after a confirmation that says what happens', async () => {
    vi.mocked(api.listTasks).mockResolvedValue(page([taskFixture()]))
    const { wrapper } = await mountPage(Page, '/customer/tasks/list')
    await wrapper.find('[data-testid="task-card-stop"]').trigger('click')
    await flushPromises()
    const box = document.querySelector('.el-message-box')!
    expect(box.textContent).toContain('SIGTERM')
    ;(box.querySelector('.el-message-box__btns .el-button--danger') as HTMLButtonElement).click()
    await flushPromises()
    await new Promise((r) => setTimeout(r, 0))
    await flushPromises()
    expect(api.stopTask).toHaveBeenCalledWith('task-1')
    wrapper.unmount()
  })
})
