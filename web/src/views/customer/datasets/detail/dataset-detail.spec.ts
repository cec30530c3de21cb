import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/core'
import type { DatasetFile } from '@/api/datasets'
import { datasetFixture, mountFixture, page } from '@/test/datasetFixtures'
import { flushPromises, mountPage } from '@/test/mountPage'

const entry = (over: Partial<DatasetFile>): DatasetFile => ({ path: 'a.txt', name: 'a.txt', dir: false, size: 10, md5: '', fileCount: 1, createdAt: '2026-01-01T00:00:00Z', ...over })

vi.mock('@/api/datasets', async (original) => ({
  ...(await original<typeof import('@/api/datasets')>()),
  getDataset: vi.fn(),
  listDatasetMounts: vi.fn(async () => []),
  listDatasetTasks: vi.fn(async () => []),
  listDatasetFiles: vi.fn(),
  previewDatasetFile: vi.fn(),
  unmountDataset: vi.fn(async () => undefined),
  datasetDownloadLink: vi.fn(async () => ({ url: '/api/datasets/download?ticket=t', expiresAt: '' })),
}))
vi.mock('@/api/tasks', async (original) => ({
  ...(await original<typeof import('@/api/tasks')>()),
  listAvailableMachines: vi.fn(async () => []),
}))
const api = await import('@/api/datasets')
const { navigate } = await import('@/components/datasets/useDatasetActions')
const { default: Page } = await import('./index.vue')

describe('dataset detail', () => {
  beforeEach(() => {
    vi.mocked(api.getDataset).mockReset()
    vi.mocked(api.listDatasetFiles).mockReset()
    vi.mocked(api.listDatasetFiles).mockImplementation(async (_id, _p, params) =>
      page(
        params.dir === 'imgs'
          ? [entry({ path: 'imgs/cat.png', name: 'cat.png', size: 2048 })]
          : [entry({ path: 'imgs', name: 'imgs', dir: true, size: 4096, fileCount: 2 }), entry({ path: 'readme.txt', name: 'readme.txt', size: 100 })],
      ),
    )
  })
  afterEach(() => {
    document.body.innerHTML = ''
    vi.restoreAllMocks()
  })

  it('shows the folder opened last, whatever order the answers come in', async () => {
    vi.mocked(api.getDataset).mockResolvedValue(datasetFixture({ canEdit: true }))
    const { wrapper } = await mountPage(Page, '/customer/datasets/ds-1')
    await flushPromises()
    // the root's second load answers after the folder's
    let answerRoot: () => void = () => {}
    vi.mocked(api.listDatasetFiles).mockImplementation(async (_id, _p, params) => {
      if (params.dir === 'imgs') return page([entry({ path: 'imgs/cat.png', name: 'cat.png' })])
      await new Promise<void>((r) => (answerRoot = r))
      return page([entry({ path: 'readme.txt', name: 'readme.txt' })])
    })
    await wrapper.find('input[data-testid="file-search"], [data-testid="file-search"] input').trigger('keyup.enter') // the root, again
    await wrapper.find('[data-testid="file-imgs"]').trigger('click')
    await flushPromises()
    answerRoot()
    await flushPromises()
    const table = wrapper.find('[data-testid="file-table"]').text()
    expect(table).toContain('cat.png')
    expect(table).not.toContain('readme.txt')
    wrapper.unmount()
  })

  it('shows the information, the files by folder, mounts and the tasks that used it', async () => {
    vi.mocked(api.getDataset).mockResolvedValue(datasetFixture({ canEdit: true }))
    vi.mocked(api.listDatasetMounts).mockResolvedValue([mountFixture(), mountFixture({ id: 'm2', status: 'failed', statusReason: 'mounts.notFound' })])
    vi.mocked(api.listDatasetTasks).mockResolvedValue([{ taskId: 't1', taskName: 'train', taskStatus: 'succeeded', containerPath: '/rgpu/datasets/cats', createdAt: '2026-01-03T00:00:00Z' }])
    const { wrapper } = await mountPage(Page, '/customer/datasets/ds-1')
    expect(api.getDataset).toHaveBeenCalledWith('ds-1', false)
    expect(wrapper.find('[data-testid="dataset-name"]').text()).toBe('cats')
    expect(wrapper.find('[data-testid="dataset-status"]').text()).toBe('可用')
    expect(wrapper.find('[data-testid="dataset-info"]').text()).toContain('3 GiB')
    expect(wrapper.find('[data-testid="dataset-info"]').text()).toContain('1200')
    // the root, folders first; a folder shows its size and file count
    expect(vi.mocked(api.listDatasetFiles).mock.calls[0][2]).toMatchObject({ dir: '', sortBy: 'name', order: 'asc' })
    const table = wrapper.find('[data-testid="file-table"]')
    expect(table.text()).toContain('readme.txt')
    expect(table.text()).toContain('2 个文件')
    // into a folder
    await wrapper.find('[data-testid="file-imgs"]').trigger('click')
    await flushPromises()
    expect(vi.mocked(api.listDatasetFiles).mock.lastCall?.[2]).toMatchObject({ dir: 'imgs' })
    expect(wrapper.find('[data-testid="file-browser"]').attributes('data-dir')).toBe('imgs')
    expect(wrapper.find('[data-testid="file-table"]').text()).toContain('cat.png')
    // writers may rename and delete
    expect(wrapper.find('.el-table__body [data-testid="file-rename"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="detail-delete"]').exists()).toBe(true)
    // mounts and uses
    expect(wrapper.find('[data-testid="detail-mounts"]').text()).toContain('/data/datasets/cats')
    expect(wrapper.find('[data-testid="detail-mounts"]').text()).toContain('挂载记录不存在')
    expect(wrapper.find('[data-testid="usage-count"]').text()).toContain('1 个任务')
    expect(wrapper.find('[data-testid="detail-uses"]').text()).toContain('train')
    wrapper.unmount()
  })

  it('previews an image fetched with the token, and downloads one file through a ticket', async () => {
    const to = vi.spyOn(navigate, 'to').mockImplementation(() => undefined)
    globalThis.URL.createObjectURL = vi.fn(() => 'blob:cat')
    globalThis.URL.revokeObjectURL = vi.fn()
    vi.mocked(api.getDataset).mockResolvedValue(datasetFixture({ canEdit: false }))
    vi.mocked(api.previewDatasetFile).mockResolvedValue(new Blob(['png']))
    const { wrapper } = await mountPage(Page, '/customer/datasets/ds-1')
    await wrapper.find('[data-testid="file-imgs"]').trigger('click')
    await flushPromises()
    // readers cannot change files
    expect(wrapper.find('.el-table__body [data-testid="file-rename"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="detail-delete"]').exists()).toBe(false)
    await wrapper.find('[data-testid="file-preview"]').trigger('click')
    await flushPromises()
    expect(api.previewDatasetFile).toHaveBeenCalledWith('ds-1', 'imgs/cat.png', undefined)
    expect(document.querySelector('[data-testid="preview-image"]')?.getAttribute('src')).toBe('blob:cat')
    await wrapper.find('.el-table__body [data-testid="file-download"]').trigger('click')
    await flushPromises()
    expect(api.datasetDownloadLink).toHaveBeenCalledWith('ds-1', 'imgs/cat.png')
    expect(to).toHaveBeenCalledWith('/api/datasets/download?ticket=t')
    wrapper.unmount()
  })

  it('shows why processing failed and does not browse files then', async () => {
    vi.mocked(api.getDataset).mockResolvedValue(
      datasetFixture({ status: 'failed', statusReason: 'uploads.quotaExceeded', statusParams: { need: 5 * 1024 ** 3, free: 1024 ** 3, quota: 10 * 1024 ** 3 } }),
    )
    const { wrapper } = await mountPage(Page, '/customer/datasets/ds-1')
    expect(wrapper.find('[data-testid="dataset-reason"]').text()).toContain('需要 5 GiB，剩余 1 GiB')
    expect(wrapper.find('[data-testid="file-browser"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="detail-mount"]').attributes('disabled')).toBeDefined()
    wrapper.unmount()
  })

  it('says so when the dataset is not there (or not the caller’s)', async () => {
    vi.mocked(api.getDataset).mockRejectedValue(new ApiError({ status: 404, message: 'not found' }))
    const { wrapper } = await mountPage(Page, '/customer/datasets/nope')
    expect(wrapper.find('[data-testid="dataset-not-found"]').text()).toContain('数据集不存在')
    wrapper.unmount()
  })
})
