import { describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { i18n } from '@/locales'

vi.mock('@/api/machines', () => ({ listFaultyGpus: vi.fn(), clearGpuFault: vi.fn() }))
vi.mock('@/utils/confirm', () => ({ confirmAction: vi.fn(async () => true) }))
const api = await import('@/api/machines')
const { default: FaultyGpus } = await import('./FaultyGpus.vue')

describe('faulty GPUs', () => {
  it('shows the GPUs set aside and clears one', async () => {
    i18n.global.locale.value = 'zh-CN'
    vi.mocked(api.listFaultyGpus).mockResolvedValue([{ gpuIndex: 3, at: '2026-01-01T00:00:00Z', xid: 79, ecc: 0, faults: 2 }])
    vi.mocked(api.clearGpuFault).mockResolvedValue({ cleared: 2, faultyGpus: [] })
    const w = mount(FaultyGpus, { props: { machineId: 'm1' }, global: { plugins: [i18n] } })
    await flushPromises()
    expect(w.get('[data-testid="faulty-gpu-3"]').text()).toContain('XID 79')
    await w.get('[data-testid="clear-gpu-3"]').trigger('click')
    await flushPromises()
    expect(api.clearGpuFault).toHaveBeenCalledWith('m1', 3)
    expect(w.find('[data-testid="faulty-gpus"]').exists()).toBe(false)
  })

  it('shows nothing without faulty GPUs', async () => {
    vi.mocked(api.listFaultyGpus).mockResolvedValue(null)
    const w = mount(FaultyGpus, { props: { machineId: 'm1' }, global: { plugins: [i18n] } })
    await flushPromises()
    expect(w.find('[data-testid="faulty-gpus"]').exists()).toBe(false)
  })
})
