import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { AdminDataset } from '@/api/datasets'
import { datasetFixture, page } from '@/test/datasetFixtures'
import { flushPromises, mountPage } from '@/test/mountPage'

vi.mock('@/api/datasets', async (original) => ({
  ...(await original<typeof import('@/api/datasets')>()),
  listAdminDatasets: vi.fn(),
  approveShare: vi.fn(async () => undefined),
  rejectShare: vi.fn(async () => undefined),
  setDatasetPublic: vi.fn(async () => undefined),
  setDatasetPrivate: vi.fn(async () => undefined),
  deleteAdminDataset: vi.fn(async () => undefined),
}))
const api = await import('@/api/datasets')
const { default: Page } = await import('./index.vue')

const admin = (over: Partial<AdminDataset> = {}): AdminDataset => ({ ...datasetFixture(over), pendingShares: null, ...over })

async function confirmBox(input?: string) {
  await flushPromises()
  const box = document.querySelector('.el-message-box')!
  if (input !== undefined) {
    const field = box.querySelector('textarea, input') as HTMLTextAreaElement
    field.value = input
    field.dispatchEvent(new Event('input'))
    await flushPromises()
  }
  ;(box.querySelector('.el-message-box__btns .el-button--primary, .el-message-box__btns .el-button--danger') as HTMLButtonElement).click()
  await flushPromises()
  await new Promise((r) => setTimeout(r, 0))
  await flushPromises()
}

describe('admin dataset library', () => {
  beforeEach(() => {
    vi.mocked(api.listAdminDatasets).mockReset()
  })
  afterEach(() => {
    document.body.innerHTML = ''
  })

  it('lists the platform’s datasets as 平台 with their access and downloads, and publishes one', async () => {
    vi.mocked(api.listAdminDatasets).mockResolvedValue(
      page([admin({ id: 'p1', name: 'imagenet', public: true, tenantId: '', tenantName: '', access: 'private', downloadCount: 42 })]),
    )
    const { wrapper } = await mountPage(Page, '/admin/datasets/list')
    expect(vi.mocked(api.listAdminDatasets).mock.calls[0][0]).toMatchObject({ tab: 'public', page: 1 })
    const table = wrapper.find('[data-testid="admin-dataset-table"] .el-table__body')
    expect(table.text()).toContain('imagenet')
    expect(table.text()).toContain('平台')
    expect(table.text()).toContain('私有')
    expect(table.text()).toContain('42')
    await table.find('[data-testid="admin-dataset-access"]').trigger('click')
    await confirmBox()
    expect(api.setDatasetPublic).toHaveBeenCalledWith('p1')
    wrapper.unmount()
  })

  it('shows the customer’s company on the customer tab', async () => {
    vi.mocked(api.listAdminDatasets).mockResolvedValue(page([admin({ name: 'cats', tenantName: 'Acme' })]))
    const { wrapper } = await mountPage(Page, '/admin/datasets/list?tab=customer')
    expect(vi.mocked(api.listAdminDatasets).mock.calls[0][0]).toMatchObject({ tab: 'customer' })
    const table = wrapper.find('[data-testid="admin-dataset-table"] .el-table__body')
    expect(table.text()).toContain('Acme')
    // set public/private is for the platform's datasets only
    expect(table.find('[data-testid="admin-dataset-access"]').exists()).toBe(false)
    wrapper.unmount()
  })

  it('reviews pending shares: approve, or reject with a reason', async () => {
    const share = (id: string, to: string) => ({
      id,
      datasetId: 'ds-1',
      datasetName: 'cats',
      ownerTenantId: 'tenant-1',
      tenantId: `t-${to}`,
      tenantCode: to.toUpperCase(),
      tenantName: to,
      status: 'pending' as const,
      reason: '',
      requestedBy: 'user-1',
      createdAt: '2026-01-01T00:00:00Z',
      decidedAt: null,
    })
    vi.mocked(api.listAdminDatasets).mockResolvedValue(page([admin({ name: 'cats', tenantName: 'Acme', pendingShares: [share('s1', 'beta'), share('s2', 'gamma')] })]))
    const { wrapper } = await mountPage(Page, '/admin/datasets/list?tab=pending')
    const rows = wrapper.findAll('[data-testid="admin-pending-table"] .el-table__body tr')
    expect(rows).toHaveLength(2)
    expect(rows[0].text()).toContain('cats')
    expect(rows[0].text()).toContain('Acme')
    expect(rows[0].text()).toContain('beta')
    await rows[0].find('[data-testid="share-approve"]').trigger('click')
    await flushPromises()
    expect(api.approveShare).toHaveBeenCalledWith('s1')
    await rows[1].find('[data-testid="share-reject"]').trigger('click')
    await confirmBox('not allowed')
    expect(api.rejectShare).toHaveBeenCalledWith('s2', 'not allowed')
    wrapper.unmount()
  })
})
