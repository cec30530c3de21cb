import { afterEach, describe, expect, it, vi } from 'vitest'
import { ElMessage } from 'element-plus'
import type { Machine } from '@/api/types'
import { flushPromises, mountPage } from '@/test/mountPage'
import { machineFixture } from '@/test/fixtures'
import MachineListPage from './index.vue'
import { VIEW_KEY } from './useMachineList'

vi.mock('@/api/machines', () => ({
  listMachines: vi.fn(),
  getMachineOptions: vi.fn(async () => ({
    regions: [{ code: 'beijing', name: '北京' }],
    gpuModels: ['RTX 4090'],
    statuses: ['online', 'offline', 'maintenance'],
    allocationStatuses: ['allocated', 'unallocated', 'expiring'],
  })),
  deleteMachine: vi.fn(),
  endMaintenance: vi.fn(),
  reclaimMachine: vi.fn(),
  resetMachinePassword: vi.fn(),
  revealMachinePassword: vi.fn(async () => ({ password: 'S3cret-pass', user: 'root', command: 'ssh root@h' })),
  rotateAgentToken: vi.fn(),
  getMachineSshCommand: vi.fn(),
  allocateMachine: vi.fn(),
  startMaintenance: vi.fn(),
  getPasswordReset: vi.fn(),
  markMachineReinstalled: vi.fn(),
}))
vi.mock('@/utils/confirm', () => ({ confirmAction: vi.fn(async () => true), promptReason: vi.fn(async () => 'customer asked') }))
const api = await import('@/api/machines')

const machine = machineFixture({
  allocationStatus: 'allocated',
  allocation: { id: 'a1', tenantId: 't1', customer: 'Acme', status: 'active', startAt: null, endAt: '2027-01-01T00:00:00Z' },
})

describe('machine list page', () => {
  afterEach(() => vi.clearAllMocks())

  it('asks the API for what the URL says, ignoring values it does not know', async () => {
    vi.mocked(api.listMachines).mockResolvedValue({ list: [machine], total: 1, page: 1, pageSize: 20 })
    const { wrapper } = await mountPage(
      MachineListPage,
      '/admin/machines/list?status=offline&allocationStatus=bogus&keyword=gpu&region=北京&sortBy=name&order=asc&page=2',
    )
    expect(api.listMachines).toHaveBeenCalledWith({
      page: 2,
      pageSize: 20,
      sortBy: 'name',
      order: 'asc',
      status: 'offline',
      region: '北京',
      keyword: 'gpu',
      gpuModel: undefined,
      allocationStatus: undefined,
      tenantId: undefined,
    })
    // the row: the customer it is allocated to, and the masked password
    const table = wrapper.find('[data-testid="machine-table"]')
    expect(table.text()).toContain('gpu-bj-001')
    expect(table.text()).toContain('Acme')
    expect(table.find('[data-testid="secret-value"]').text()).toBe('••••••••')
    wrapper.unmount()
  })

  it('reveals a password only when asked', async () => {
    vi.mocked(api.listMachines).mockResolvedValue({ list: [machine], total: 1, page: 1, pageSize: 20 })
    const { wrapper } = await mountPage(MachineListPage, '/admin/machines/list')
    expect(api.revealMachinePassword).not.toHaveBeenCalled()
    await wrapper.find('[data-testid="secret-toggle"]').trigger('click')
    await flushPromises()
    expect(api.revealMachinePassword).toHaveBeenCalledWith(machine.id)
    expect(wrapper.find('[data-testid="secret-value"]').text()).toBe('S3cret-pass')
    wrapper.unmount()
  })

  it('remembers the card view', async () => {
    vi.mocked(api.listMachines).mockResolvedValue({ list: [machine], total: 1, page: 1, pageSize: 20 })
    const { wrapper } = await mountPage(MachineListPage, '/admin/machines/list')
    await wrapper.findAll('[data-testid="machine-view"] input')[1]!.setValue(true)
    await flushPromises()
    expect(localStorage.getItem(VIEW_KEY)).toBe('card')
    expect(wrapper.find('[data-testid="machine-card-gpu-bj-001"]').exists()).toBe(true)
    wrapper.unmount()
  })

  it('tags a machine whose lease cleanup runs, and does not offer to allocate it or end its maintenance', async () => {
    const cleaning: Machine = {
      ...machine,
      status: 'maintenance',
      allocationStatus: 'unallocated',
      allocation: undefined,
      cleanup: { allocationId: 'al-1', since: '2026-03-01T08:00:00Z' },
    }
    vi.mocked(api.listMachines).mockResolvedValue({ list: [cleaning], total: 1, page: 1, pageSize: 20 })
    const { wrapper } = await mountPage(MachineListPage, '/admin/machines/list')
    const table = wrapper.find('[data-testid="machine-table"]')
    expect(table.text()).toContain('维护中')
    expect(table.find('[data-testid="machine-cleaning"]').text()).toContain('清理中')
    const allocate = table.find('[data-testid="machine-allocate"]')
    expect(allocate.attributes('disabled')).toBeDefined()
    expect(allocate.attributes('title')).toBe('租期结束后的清理尚未完成，暂不能分配')
    await table.find('[data-testid="machine-more"]').trigger('click')
    await flushPromises()
    const blocked = document.querySelector('[data-testid="machine-end-maintenance-disabled"]')
    expect(blocked?.getAttribute('aria-disabled')).toBe('true')
    expect(blocked?.getAttribute('title')).toContain('不能手动结束')
    expect(document.querySelector('[data-testid="machine-end-maintenance"]')).toBeNull()
    expect(document.querySelector('[data-testid="machine-mark-reinstalled"]')).not.toBeNull()
    wrapper.unmount()
  })

  it('says the lease ended and the host is being cleaned after a reclaim, and reloads', async () => {
    const success = vi.spyOn(ElMessage, 'success')
    vi.mocked(api.listMachines).mockResolvedValue({ list: [machine], total: 1, page: 1, pageSize: 20 })
    vi.mocked(api.reclaimMachine).mockResolvedValue({} as never)
    const { wrapper } = await mountPage(MachineListPage, '/admin/machines/list')
    await wrapper.find('[data-testid="machine-reclaim"]').trigger('click')
    await flushPromises()
    expect(api.reclaimMachine).toHaveBeenCalledWith(machine.id, 'customer asked')
    expect(success).toHaveBeenCalledWith('租期已结束，正在清理主机')
    expect(api.listMachines).toHaveBeenCalledTimes(2)
    wrapper.unmount()
  })
})
