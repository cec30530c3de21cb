import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Task, TaskDetails } from '@/api/tasks'
import { taskFixture } from '@/test/fixtures'
import { flushPromises, mountPage } from '@/test/mountPage'

vi.mock('@/api/tasks', async (original) => ({
  ...(await original<typeof import('@/api/tasks')>()),
  listAdminTasks: vi.fn(),
  getAdminTask: vi.fn(),
  getAdminTaskLogs: vi.fn(async () => ({ attempt: 1, attempts: 1, total: 0, lines: [] })),
  stopAdminTask: vi.fn(async () => undefined),
}))
vi.mock('@/api/customers', () => ({ listCustomers: vi.fn(async () => ({ list: [], total: 0, page: 1, pageSize: 20 })), getCustomer: vi.fn() }))
vi.mock('@/api/machines', () => ({ listMachines: vi.fn(async () => ({ list: [], total: 0, page: 1, pageSize: 20 })), getMachine: vi.fn() }))
const api = await import('@/api/tasks')
const { adminParams } = await import('./useAdminTaskList')
const { default: Page } = await import('./index.vue')

const row = (over: Partial<Task> = {}) => taskFixture({ tenantName: 'Acme Corp', ...over })
const filters = { tab: 'all' as const, tenantId: '', machineId: '', type: '' as const, from: '', to: '' }

describe('admin task list', () => {
  beforeEach(() => {
    vi.mocked(api.listAdminTasks).mockResolvedValue({ list: [row()], total: 1, page: 1, pageSize: 20 })
  })
  afterEach(() => {
    vi.clearAllMocks()
    document.body.innerHTML = ''
  })

  it('asks for each tab’s statuses and the filters', () => {
    expect(adminParams(filters)).toEqual({ status: undefined, tenantId: undefined, machineId: undefined, type: undefined, from: undefined, to: undefined })
    expect(adminParams({ ...filters, tab: 'running' }).status).toBe('queued,running')
    expect(adminParams({ ...filters, tab: 'finished' }).status).toBe('succeeded')
    expect(adminParams({ ...filters, tab: 'failed' }).status).toBe('failed')
    expect(adminParams({ ...filters, tab: 'abnormal' }).status).toBe('stopped')
    expect(adminParams({ ...filters, tenantId: 't1', machineId: 'm1', type: 'inference', from: 'a', to: 'b' })).toMatchObject({
      tenantId: 't1',
      machineId: 'm1',
      type: 'inference',
      from: 'a',
      to: 'b',
    })
  })

  it('lists the tasks of every customer and stops one with a reason the customer is told', async () => {
    const { wrapper } = await mountPage(Page, '/admin/tasks/list?tab=failed')
    expect(vi.mocked(api.listAdminTasks).mock.calls[0][0]).toMatchObject({ status: 'failed' })
    const table = wrapper.find('[data-testid="admin-task-table"]')
    expect(table.text()).toContain('resnet50')
    expect(table.text()).toContain('Acme Corp')
    expect(table.text()).toContain('运行中')

    await wrapper.find('[data-testid="admin-task-stop"]').trigger('click')
    await flushPromises()
    const box = document.querySelector('.el-message-box')!
    expect(box.textContent).toContain('客户会收到通知')
    const input = box.querySelector('textarea')!
    input.value = 'maintenance of the host'
    input.dispatchEvent(new Event('input'))
    await flushPromises()
    ;(box.querySelector('.el-message-box__btns .el-button--danger') as HTMLButtonElement).click()
    await new Promise((r) => setTimeout(r, 0))
    await flushPromises()
    expect(api.stopAdminTask).toHaveBeenCalledWith('task-1', 'maintenance of the host')
    wrapper.unmount()
  })

  it('opens a task in the drawer with its customer and attempts, and its log', async () => {
    const details: TaskDetails = {
      ...row(),
      anyMachine: false,
      workDir: '',
      scriptPath: '',
      command: 'echo hi',
      env: null,
      autoRestart: false,
      notifyInApp: true,
      notifyMail: false,
      checkpointIntervalSeconds: 0,
      servicePort: null,
      attempts: [],
      gpuSimulated: false,
      createdByName: 'Ann',
      firstAttempt: 1,
    }
    vi.mocked(api.getAdminTask).mockResolvedValue(details)
    const { wrapper } = await mountPage(Page, '/admin/tasks/list')
    await wrapper.find('[data-testid="admin-task-logs"]').trigger('click')
    await flushPromises()
    expect(api.getAdminTask).toHaveBeenCalledWith('task-1')
    expect(api.getAdminTaskLogs).toHaveBeenCalledWith('task-1', { attempt: 1, limit: 5000 })
    expect(document.querySelector('[data-testid="admin-task-drawer"] [data-testid="log-refresh"]')).not.toBeNull()
    wrapper.unmount()
  })
})
