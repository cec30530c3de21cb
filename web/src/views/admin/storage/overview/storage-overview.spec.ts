import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mountPage } from '@/test/mountPage'

const GiB = 1024 ** 3
vi.mock('@/utils/echarts', () => ({ echarts: { init: vi.fn(() => ({ setOption: vi.fn(), on: vi.fn(), resize: vi.fn(), dispose: vi.fn(), showLoading: vi.fn(), hideLoading: vi.fn() })) } }))
vi.mock('@/api/datasets', async (original) => ({
  ...(await original<typeof import('@/api/datasets')>()),
  getStorageOverview: vi.fn(async () => ({
    capacityBytes: 1024 * GiB,
    capacitySource: 'config',
    usedBytes: 256 * GiB,
    freeBytes: 768 * GiB,
    usageRate: 0.25,
    datasetsBytes: 200 * GiB,
    uploadsBytes: 0,
    range: '7d',
    trend: [{ at: '2026-01-01T00:00:00Z', capacityBytes: 1024 * GiB, usedBytes: 200 * GiB, datasetsBytes: 0 }],
  })),
  getStorageDistribution: vi.fn(async () => ({
    byCustomer: [{ id: 'c1', name: 'Acme', bytes: 100 * GiB }],
    otherCustomersBytes: 0,
    platformBytes: 50 * GiB,
    byKind: [
      { kind: 'datasets', bytes: 150 * GiB, available: true },
      { kind: 'models', bytes: 0, available: false },
    ],
    byRegion: [],
  })),
  getCleanupSuggestions: vi.fn(async () => ({
    days: 90,
    unused: [{ datasetId: 'd1', name: 'old-stuff', customerId: 'c1', company: 'Acme', status: 'available', bytes: 3 * GiB, lastUsedAt: null, createdAt: '2025-01-01T00:00:00Z' }],
    unusedCount: 1,
    unusedBytes: 3 * GiB,
    duplicates: [],
    duplicateCount: 0,
    duplicateBytes: 0,
    abandonedUploads: [],
    abandonedCount: 0,
    abandonedBytes: 0,
    failed: [],
    failedCount: 0,
    failedBytes: 0,
    totalBytes: 3 * GiB,
  })),
  listCustomerQuotas: vi.fn(async () => ({
    list: [{ customerId: 'c1', company: 'Acme', code: 'ACME', usedBytes: 100 * GiB, reservedBytes: 0, quotaBytes: 100 * GiB, customQuota: false, datasetCount: 3 }],
    total: 1,
    page: 1,
    pageSize: 10,
  })),
  setCustomerQuota: vi.fn(async () => undefined),
}))
const api = await import('@/api/datasets')
const { default: Page } = await import('./index.vue')

describe('storage overview', () => {
  afterEach(() => {
    document.body.innerHTML = ''
  })

  it('shows capacity, use, distribution (saying which kinds are not stored yet) and cleanup suggestions', async () => {
    const { wrapper } = await mountPage(Page, '/admin/storage/overview')
    expect(wrapper.find('[data-testid="storage-capacity"]').text()).toContain('1 TiB')
    expect(wrapper.find('[data-testid="storage-used"]').text()).toContain('256 GiB')
    expect(wrapper.find('[data-testid="storage-used"]').text()).toContain('25%')
    expect(wrapper.find('[data-testid="storage-free"]').text()).toContain('768 GiB')
    expect(wrapper.find('[data-testid="storage-trend"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="dist-customer"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="kind-unavailable"]').text()).toContain('模型')
    expect(wrapper.find('[data-testid="dist-region"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="cleanup-unused"]').text()).toContain('old-stuff')
    expect(wrapper.find('[data-testid="cleanup-unused"]').text()).toContain('3 GiB')
    wrapper.unmount()
  })

  it('adjusts a customer’s quota in GiB, or restores the default', async () => {
    const { wrapper } = await mountPage(Page, '/admin/storage/overview')
    expect(wrapper.find('[data-testid="quota-table"] .el-table__body').text()).toContain('默认')
    await wrapper.find('.el-table__body [data-testid="quota-adjust"]').trigger('click')
    await flushPromises()
    const input = document.querySelector('[data-testid="quota-gib"] input') as HTMLInputElement
    expect(input.value).toBe('100.00')
    input.value = '250'
    input.dispatchEvent(new Event('input'))
    input.dispatchEvent(new Event('change'))
    await flushPromises()
    ;(document.querySelector('[data-testid="quota-save"]') as HTMLButtonElement).click()
    await flushPromises()
    expect(api.setCustomerQuota).toHaveBeenCalledWith('c1', 250 * GiB)
    await wrapper.find('.el-table__body [data-testid="quota-adjust"]').trigger('click')
    await flushPromises()
    ;(document.querySelector('[data-testid="quota-restore"]') as HTMLButtonElement).click()
    await flushPromises()
    expect(api.setCustomerQuota).toHaveBeenLastCalledWith('c1', null)
    wrapper.unmount()
  })
})
