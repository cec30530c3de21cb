import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { i18n } from '@/locales'
import { allocationFixture } from '@/test/fixtures'
import type { Allocation, HostStep } from '@/api/types'
import AllocationDrawer from './AllocationDrawer.vue'

vi.mock('@/api/allocations', () => ({ getAllocation: vi.fn() }))
const api = await import('@/api/allocations')

const step = (s: string, state: HostStep['state']): HostStep => ({ step: s, state, confirmed: state === 'confirmed', detail: '', at: '2026-03-01T08:00:00Z' })
const allocation = (cleanupStatus: Allocation['cleanupStatus'], hostSteps: HostStep[]): Allocation =>
  allocationFixture({ machineId: 'm1', hostSteps, cleanupStatus })

function open() {
  return mount(AllocationDrawer, {
    props: { id: 'al-1', modelValue: true },
    global: { plugins: [createPinia(), i18n], stubs: { transition: false, RouterLink: true } },
    attachTo: document.body,
  })
}

describe('allocation drawer', () => {
  afterEach(() => {
    vi.clearAllMocks()
    vi.useRealTimers()
    document.body.innerHTML = ''
  })

  it('shows the cleanup and its steps, refreshed while it runs, until it is done', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    i18n.global.locale.value = 'zh-CN'
    const running = allocation('running', [step('stop_tenant', 'confirmed'), step('remove_ssh_keys', 'pending')])
    const done = allocation('done', [step('stop_tenant', 'confirmed'), step('remove_ssh_keys', 'confirmed')])
    vi.mocked(api.getAllocation).mockResolvedValueOnce(running).mockResolvedValueOnce(done)
    const wrapper = open()
    await flushPromises()
    const drawer = () => document.querySelector('[data-testid="allocation-drawer"]')!
    expect(drawer().querySelector('[data-testid="allocation-cleanup-status"]')?.textContent).toContain('清理中')
    expect(drawer().textContent).toContain('等待主机确认')
    await vi.advanceTimersByTimeAsync(5000)
    await flushPromises()
    expect(api.getAllocation).toHaveBeenCalledTimes(2)
    expect(drawer().querySelector('[data-testid="allocation-cleanup-status"]')?.textContent).toContain('已完成')
    expect(drawer().textContent).not.toContain('等待主机确认')
    await vi.advanceTimersByTimeAsync(20000)
    expect(api.getAllocation).toHaveBeenCalledTimes(2)
    wrapper.unmount()
  })

  it('stops refreshing when closed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    vi.mocked(api.getAllocation).mockResolvedValue(allocation('running', [step('stop_tenant', 'pending')]))
    const wrapper = open()
    await flushPromises()
    await wrapper.setProps({ modelValue: false })
    await vi.advanceTimersByTimeAsync(20000)
    expect(api.getAllocation).toHaveBeenCalledTimes(1)
    wrapper.unmount()
  })

  it('shows an end reason the platform wrote by its code in the console\'s language, an admin\'s as written', async () => {
    i18n.global.locale.value = 'zh-CN'
    vi.mocked(api.getAllocation).mockResolvedValue({
      ...allocation('done', []),
      endReason: 'reclaimed early',
      endReasonCode: 'lease.reclaimedEarly',
    })
    let wrapper = open()
    await flushPromises()
    const drawer = () => document.querySelector('[data-testid="allocation-drawer"]')!
    expect(drawer().textContent).toContain('提前回收')
    wrapper.unmount()
    i18n.global.locale.value = 'en'
    wrapper = open()
    await flushPromises()
    expect(drawer().textContent).toContain('early reclaim')
    wrapper.unmount()
    i18n.global.locale.value = 'zh-CN'
    vi.mocked(api.getAllocation).mockResolvedValue({ ...allocation('done', []), endReason: '客户要求' })
    wrapper = open()
    await flushPromises()
    expect(drawer().textContent).toContain('客户要求')
    wrapper.unmount()
  })
})
