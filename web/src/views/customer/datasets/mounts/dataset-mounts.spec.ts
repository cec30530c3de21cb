import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { datasetFixture, mountFixture, page } from '@/test/datasetFixtures'
import { flushPromises, mountPage, settleForm } from '@/test/mountPage'

vi.mock('@/api/datasets', async (original) => ({
  ...(await original<typeof import('@/api/datasets')>()),
  listMounts: vi.fn(),
  listDatasets: vi.fn(async (tab: string) => page(tab === 'mine' ? [datasetFixture()] : [])),
  createMount: vi.fn(async () => mountFixture({ status: 'mounting' })),
  deleteMount: vi.fn(async () => undefined),
}))
vi.mock('@/api/tasks', async (original) => ({
  ...(await original<typeof import('@/api/tasks')>()),
  listAvailableMachines: vi.fn(async () => [{ id: 'm-1', name: 'gpu-a', status: 'online', gpuModel: 'A100', gpuCount: 8, freeGpus: 8, gpuSource: 'nvml', queuedTasks: 0 }]),
}))
const api = await import('@/api/datasets')
const { validMountPath, defaultMountPath } = await import('@/components/datasets/datasetUtil')
const { default: Page } = await import('./index.vue')

describe('mount paths', () => {
  it('are absolute, two levels at least, outside the system directories', () => {
    expect(validMountPath('/data/cats')).toBe(true)
    expect(validMountPath('/data/cats/')).toBe(true)
    expect(validMountPath('/data')).toBe(false)
    expect(validMountPath('data/cats')).toBe(false)
    expect(validMountPath('/data/../etc')).toBe(false)
    expect(validMountPath('/etc/cats')).toBe(false)
    expect(validMountPath('/lib64/x')).toBe(false)
    expect(validMountPath('/library/x')).toBe(false)
    expect(validMountPath('/var/lib/x')).toBe(false)
    expect(validMountPath('/var/data/x')).toBe(true)
    expect(validMountPath('/usr/local')).toBe(false)
    expect(defaultMountPath('My Cats! v2')).toBe('/data/datasets/My-Cats-v2')
  })
})

describe('mounts page', () => {
  beforeEach(() => {
    vi.mocked(api.listMounts).mockReset()
    vi.mocked(api.createMount).mockClear()
  })
  afterEach(() => {
    document.body.innerHTML = ''
    vi.useRealTimers()
  })

  it('lists the mounts with their status and a failure’s reason', async () => {
    vi.mocked(api.listMounts).mockResolvedValue(
      page([mountFixture(), mountFixture({ id: 'm2', datasetName: 'dogs', status: 'failed', statusReason: 'mounts.notFound' }), mountFixture({ id: 'm3', datasetName: 'gone', status: 'unmounted' })]),
    )
    const { wrapper } = await mountPage(Page, '/customer/datasets/mounts')
    const rows = wrapper.findAll('[data-testid="mount-table"] .el-table__body tr')
    expect(rows).toHaveLength(2) // unmounted ones are history, not shown
    expect(rows[0].find('[data-testid="mount-status"]').text()).toBe('已挂载')
    expect(rows[1].find('[data-testid="mount-status"]').text()).toBe('失败')
    expect(rows[1].find('[data-testid="mount-reason"]').text()).toBe('挂载记录不存在')
    wrapper.unmount()
  })

  it('polls while a mount is in progress, and stops when it is done', async () => {
    vi.useFakeTimers()
    vi.mocked(api.listMounts).mockResolvedValue(page([mountFixture({ status: 'mounting', mountedAt: null })]))
    const { wrapper } = await mountPage(Page, '/customer/datasets/mounts')
    expect(api.listMounts).toHaveBeenCalledTimes(1)
    vi.mocked(api.listMounts).mockResolvedValue(page([mountFixture()]))
    await vi.advanceTimersByTimeAsync(3000)
    expect(api.listMounts).toHaveBeenCalledTimes(2)
    await flushPromises()
    expect(wrapper.find('[data-testid="mount-status"]').text()).toBe('已挂载')
    await vi.advanceTimersByTimeAsync(10_000)
    expect(api.listMounts).toHaveBeenCalledTimes(2)
    wrapper.unmount()
  })

  it('quick-mounts a dataset on a machine at a checked path', async () => {
    vi.mocked(api.listMounts).mockResolvedValue(page([]))
    const { wrapper } = await mountPage(Page, '/customer/datasets/mounts')
    const vm = wrapper.vm as unknown as { quick: { datasetId: string; machineId: string; path: string } }
    // a bad path is refused on the form
    Object.assign(vm.quick, { datasetId: 'ds-1', machineId: 'm-1' })
    await flushPromises()
    expect(vm.quick.path).toBe('/data/datasets/cats')
    vm.quick.path = '/etc/x'
    await wrapper.find('[data-testid="quick-mount"]').trigger('submit')
    await settleForm()
    expect(api.createMount).not.toHaveBeenCalled()
    expect(wrapper.text()).toContain('至少两级的绝对路径')
    vm.quick.path = '/data/cats'
    await wrapper.find('[data-testid="quick-mount"]').trigger('submit')
    await settleForm()
    expect(api.createMount).toHaveBeenCalledWith('ds-1', 'm-1', '/data/cats')
    wrapper.unmount()
  })
})
