import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { datasetFixture, meFixture, page } from '@/test/datasetFixtures'
import { flushPromises, mountPage } from '@/test/mountPage'
import { useUserStore } from '@/store/modules/user'

vi.mock('@/api/datasets', async (original) => ({
  ...(await original<typeof import('@/api/datasets')>()),
  listDatasets: vi.fn(),
  getStorageQuota: vi.fn(async () => ({ usedBytes: 30 * 1024 ** 3, reservedBytes: 2 * 1024 ** 3, quotaBytes: 100 * 1024 ** 3 })),
  deleteDataset: vi.fn(async () => undefined),
  datasetDownloadLink: vi.fn(async () => ({ url: '/api/customer/datasets/download?ticket=abc' })),
}))
vi.mock('@/api/tasks', async (original) => ({
  ...(await original<typeof import('@/api/tasks')>()),
  listAvailableMachines: vi.fn(async () => []),
}))
const api = await import('@/api/datasets')
const { navigate } = await import('@/components/datasets/useDatasetActions')
const { listParams } = await import('./useDatasetList')
const { default: Page } = await import('./index.vue')

describe('dataset list', () => {
  beforeEach(() => {
    vi.mocked(api.listDatasets).mockReset()
    vi.mocked(api.deleteDataset).mockClear()
  })
  afterEach(() => {
    document.body.innerHTML = ''
    vi.useRealTimers()
  })

  it('turns the filters into the API’s parameters', () => {
    expect(listParams({ tab: 'mine', q: ' cat ', type: 'image', sort: 'sizeBytes-desc' })).toEqual({ q: 'cat', type: 'image', sortBy: 'sizeBytes', order: 'desc' })
    expect(listParams({ tab: 'mine', q: '', type: '', sort: '' })).toMatchObject({ sortBy: 'createdAt', order: 'desc' })
  })

  it('shows cards with size, access, status and a failure’s reason, and the storage bar', async () => {
    vi.mocked(api.listDatasets).mockResolvedValue(
      page([
        datasetFixture(),
        datasetFixture({ id: 'ds-2', name: 'broken', status: 'failed', statusReason: 'uploads.quotaExceeded', statusParams: { need: 2 * 1024 ** 3, free: 1024 ** 3, quota: 100 * 1024 ** 3 } }),
        datasetFixture({ id: 'ds-3', name: 'coming', status: 'processing', reservedBytes: 1000, sizeBytes: 250, access: 'team' }),
      ]),
    )
    const { wrapper } = await mountPage(Page, '/customer/datasets/list')
    expect(api.listDatasets).toHaveBeenCalledWith('mine', expect.objectContaining({ page: 1, pageSize: 12, sortBy: 'createdAt', order: 'desc' }), false)
    const cats = wrapper.find('[data-testid="dataset-card-cats"]')
    expect(cats.find('[data-testid="dataset-card-size"]').text()).toBe('3 GiB')
    expect(cats.find('[data-testid="dataset-card-access"]').text()).toBe('私有')
    const broken = wrapper.find('[data-testid="dataset-card-broken"]')
    expect(broken.find('[data-testid="dataset-card-status"]').text()).toBe('失败')
    // byte figures in a reason are readable
    expect(broken.find('[data-testid="dataset-card-reason"]').text()).toContain('2 GiB')
    expect(broken.find('[data-testid="dataset-card-download"]').attributes('disabled')).toBeDefined()
    const coming = wrapper.find('[data-testid="dataset-card-coming"]')
    expect(coming.find('[data-testid="dataset-card-status"]').text()).toBe('处理中')
    expect(coming.find('[data-testid="dataset-card-access"]').text()).toBe('团队共享')
    expect(wrapper.find('[data-testid="storage-used"]').text()).toContain('30 GiB')
    expect(wrapper.find('[data-testid="storage-used"]').text()).toContain('100 GiB')
    expect(wrapper.find('[data-testid="storage-reserved"]').text()).toContain('2 GiB')
    wrapper.unmount()
  })

  it('lets only writers share and delete; shared datasets are read-only', async () => {
    vi.mocked(api.listDatasets).mockResolvedValue(
      page([datasetFixture(), datasetFixture({ id: 'x', name: 'theirs', createdBy: 'user-2' }), datasetFixture({ id: 's', name: 'shared', shared: true, tenantName: 'Other' })]),
    )
    const { wrapper } = await mountPage(Page, '/customer/datasets/list')
    useUserStore().setMe(meFixture())
    await flushPromises()
    expect(wrapper.find('[data-testid="dataset-card-cats"] [data-testid="dataset-card-delete"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="dataset-card-theirs"] [data-testid="dataset-card-delete"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="dataset-card-shared"] [data-testid="dataset-card-share"]').exists()).toBe(false)
    // an owner may change every dataset of the company
    useUserStore().setMe(meFixture({ role: 'owner' }))
    await flushPromises()
    expect(wrapper.find('[data-testid="dataset-card-theirs"] [data-testid="dataset-card-delete"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="dataset-card-shared"] [data-testid="dataset-card-delete"]').exists()).toBe(false)
    wrapper.unmount()
  })

  it('asks each tab its own list and says when it is empty', async () => {
    vi.mocked(api.listDatasets).mockResolvedValue(page([]))
    const { wrapper, router } = await mountPage(Page, '/customer/datasets/list?tab=shared')
    expect(vi.mocked(api.listDatasets).mock.calls[0][0]).toBe('shared')
    expect(wrapper.find('[data-testid="dataset-empty"]').text()).toContain('还没有其他公司共享给您的数据集')
    await router.replace('/customer/datasets/list?tab=public')
    await flushPromises()
    expect(vi.mocked(api.listDatasets).mock.lastCall?.[0]).toBe('public')
    wrapper.unmount()
  })

  it('downloads through a ticket link and deletes after a confirmation', async () => {
    const to = vi.spyOn(navigate, 'to').mockImplementation(() => undefined)
    vi.mocked(api.listDatasets).mockResolvedValue(page([datasetFixture()]))
    const { wrapper } = await mountPage(Page, '/customer/datasets/list')
    useUserStore().setMe(meFixture())
    await flushPromises()
    await wrapper.find('[data-testid="dataset-card-download"]').trigger('click')
    await flushPromises()
    expect(api.datasetDownloadLink).toHaveBeenCalledWith('ds-1', undefined)
    expect(to).toHaveBeenCalledWith('/api/customer/datasets/download?ticket=abc')

    await wrapper.find('[data-testid="dataset-card-delete"]').trigger('click')
    await flushPromises()
    const box = document.querySelector('.el-message-box')!
    expect(box.textContent).toContain('cats')
    ;(box.querySelector('.el-message-box__btns .el-button--danger') as HTMLButtonElement).click()
    await flushPromises()
    await new Promise((r) => setTimeout(r, 0))
    await flushPromises()
    expect(api.deleteDataset).toHaveBeenCalledWith('ds-1')
    wrapper.unmount()
  })

  it('refreshes quietly while a dataset is processing', async () => {
    vi.useFakeTimers()
    vi.mocked(api.listDatasets).mockResolvedValue(page([datasetFixture({ status: 'processing' })]))
    const { wrapper } = await mountPage(Page, '/customer/datasets/list')
    expect(api.listDatasets).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(5000)
    expect(api.listDatasets).toHaveBeenCalledTimes(2)
    expect(vi.mocked(api.listDatasets).mock.calls[1][2]).toBe(true)
    wrapper.unmount()
  })
})
