// The console's side of the host trust boundary: a password reset shows only
// what the host applied (and polls while it waits), a machine whose lease
// cleanup runs says so, shows its steps and can be marked reinstalled, and a
// bootstrap token says until when it works.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope, nextTick, ref } from 'vue'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { i18n } from '@/locales'
import { allocationFixture, machineFixture } from '@/test/fixtures'
import type { Allocation, HostStep, Machine, MaintenanceRecord, PasswordReset } from '@/api/types'

vi.mock('@/api/machines', () => ({
  getPasswordReset: vi.fn(),
  revealMachinePassword: vi.fn(async () => ({ password: 'Applied-Pass-1', user: 'root', command: 'ssh root@h' })),
  markMachineReinstalled: vi.fn(),
  allocateMachine: vi.fn(),
}))
vi.mock('@/api/allocations', () => ({ getAllocation: vi.fn() }))
vi.mock('@/api/customers', () => ({ listCustomers: vi.fn(async () => ({ list: [], total: 0, page: 1, pageSize: 20 })), getCustomer: vi.fn() }))
const api = await import('@/api/machines')
const allocApi = await import('@/api/allocations')

const { usePasswordResetPoll, RESET_POLL_MS } = await import('./usePasswordResetPoll')
const { useLeaseCleanup, CLEANUP_POLL_MS } = await import('./useLeaseCleanup')
const { bootstrapHint } = await import('./useMachineActions')
const PasswordResetDialog = (await import('./components/PasswordResetDialog.vue')).default
const ReinstalledDialog = (await import('./components/ReinstalledDialog.vue')).default
const MachineCleanupTag = (await import('./components/MachineCleanupTag.vue')).default
const MaintenanceTable = (await import('./components/MaintenanceTable.vue')).default
const AllocateDialog = (await import('./components/AllocateDialog.vue')).default
const HostStepList = (await import('../allocations/components/HostStepList.vue')).default

const machine = machineFixture({ status: 'maintenance' })
const cleaning: Machine = { ...machine, cleanup: { allocationId: 'al-1', since: '2026-03-01T08:00:00Z' } }

const pending: PasswordReset = { status: 'pending', user: 'root', requestedAt: '2026-03-01T08:00:00Z', appliedAt: null, error: '', simulated: false }
const applied: PasswordReset = { ...pending, status: 'applied', appliedAt: '2026-03-01T08:00:03Z' }

const steps = (state: HostStep['state']): HostStep[] =>
  ['stop_tenant', 'remove_ssh_keys', 'rotate_password', 'rotate_agent_key'].map((step) => ({
    step,
    state,
    confirmed: state === 'confirmed',
    detail: state === 'pending' ? 'waiting for the host agent to confirm' : '',
    at: '2026-03-01T08:00:00Z',
  }))
const allocation = (cleanupStatus: Allocation['cleanupStatus'], state: HostStep['state']): Allocation =>
  allocationFixture({ hostSteps: steps(state), cleanupStatus })

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- one helper for several components
const mountIt = (component: any, props: Record<string, unknown>) =>
  mount(component, {
    props,
    global: { plugins: [createPinia(), i18n], stubs: { transition: false, 'transition-group': false, RouterLink: true } },
    attachTo: document.body,
  })

beforeEach(() => {
  i18n.global.locale.value = 'zh-CN'
})
afterEach(() => {
  vi.clearAllMocks()
  vi.useRealTimers()
  document.body.innerHTML = ''
})

describe('password reset polling', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }))

  it('reads the reset every 2 s while it is pending and shown, and stops when the host answered', async () => {
    const active = ref(true)
    vi.mocked(api.getPasswordReset).mockResolvedValueOnce(pending).mockResolvedValueOnce(applied)
    const scope = effectScope()
    const poll = scope.run(() => usePasswordResetPoll({ machineId: () => machine.id, active: () => active.value }))!
    poll.result.value = pending
    await nextTick()
    await vi.advanceTimersByTimeAsync(RESET_POLL_MS - 1)
    expect(api.getPasswordReset).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1)
    expect(api.getPasswordReset).toHaveBeenCalledWith(machine.id, { silent: true })
    await vi.advanceTimersByTimeAsync(RESET_POLL_MS)
    expect(api.getPasswordReset).toHaveBeenCalledTimes(2)
    expect(poll.result.value?.status).toBe('applied')
    await vi.advanceTimersByTimeAsync(RESET_POLL_MS * 5)
    expect(api.getPasswordReset).toHaveBeenCalledTimes(2)
    scope.stop()
  })

  it('stops when no longer shown, and when its scope ends (the dialog unmounts)', async () => {
    const active = ref(true)
    vi.mocked(api.getPasswordReset).mockResolvedValue(pending)
    const scope = effectScope()
    const poll = scope.run(() => usePasswordResetPoll({ machineId: () => machine.id, active: () => active.value }))!
    poll.result.value = pending
    await nextTick()
    await vi.advanceTimersByTimeAsync(RESET_POLL_MS)
    expect(api.getPasswordReset).toHaveBeenCalledTimes(1)
    active.value = false
    await nextTick()
    await vi.advanceTimersByTimeAsync(RESET_POLL_MS * 3)
    expect(api.getPasswordReset).toHaveBeenCalledTimes(1)
    active.value = true
    await nextTick()
    await vi.advanceTimersByTimeAsync(RESET_POLL_MS)
    expect(api.getPasswordReset).toHaveBeenCalledTimes(2)
    scope.stop()
    await vi.advanceTimersByTimeAsync(RESET_POLL_MS * 3)
    expect(api.getPasswordReset).toHaveBeenCalledTimes(2)
  })

  it('the dialog waits for the host, then offers to reveal the applied password, and never shows it unasked', async () => {
    vi.mocked(api.getPasswordReset).mockResolvedValueOnce(applied)
    const wrapper = mountIt(PasswordResetDialog, { modelValue: true, machine, result: pending })
    await flushPromises()
    const dialog = () => document.querySelector('[data-testid="password-reset-dialog"]')!
    expect(dialog().textContent).toContain('等待主机代理确认…')
    expect(dialog().querySelector('[data-testid="reset-new-password"]')).toBeNull()
    await vi.advanceTimersByTimeAsync(RESET_POLL_MS)
    await flushPromises()
    expect(dialog().textContent).toContain('已在主机上生效')
    expect(wrapper.emitted('settled')).toHaveLength(1)
    expect(dialog().textContent).not.toContain('Applied-Pass-1')
    expect(api.revealMachinePassword).not.toHaveBeenCalled()
    ;(dialog().querySelector('[data-testid="reset-new-password"] [data-testid="secret-toggle"]') as HTMLElement).click()
    await flushPromises()
    expect(api.revealMachinePassword).toHaveBeenCalledWith(machine.id)
    expect(dialog().textContent).toContain('Applied-Pass-1')
    expect(dialog().querySelector('[data-testid="reset-simulated"]')).toBeNull()
    wrapper.unmount()
  })

  it('says so when a simulated host acknowledged the password without setting it', async () => {
    const wrapper = mountIt(PasswordResetDialog, { modelValue: true, machine, result: { ...applied, simulated: true } })
    await flushPromises()
    const dialog = document.querySelector('[data-testid="password-reset-dialog"]')!
    expect(dialog.querySelector('[data-testid="reset-simulated"]')?.textContent).toContain('模拟主机方式运行')
    expect(dialog.querySelector('[data-testid="password-reset-simulated"]')?.textContent).toContain('模拟主机')
    expect(dialog.textContent).not.toContain('旧密码已失效')
    wrapper.unmount()
  })

  it('the dialog stops polling when it is unmounted', async () => {
    vi.mocked(api.getPasswordReset).mockResolvedValue(pending)
    const wrapper = mountIt(PasswordResetDialog, { modelValue: true, machine, result: pending })
    await flushPromises()
    await vi.advanceTimersByTimeAsync(RESET_POLL_MS)
    expect(api.getPasswordReset).toHaveBeenCalledTimes(1)
    wrapper.unmount()
    await vi.advanceTimersByTimeAsync(RESET_POLL_MS * 5)
    expect(api.getPasswordReset).toHaveBeenCalledTimes(1)
  })

  it('the dialog shows what the host reported when it failed, and no password', async () => {
    const wrapper = mountIt(PasswordResetDialog, {
      modelValue: true,
      machine,
      result: { ...pending, status: 'failed', error: 'chpasswd: user root is locked' },
    })
    await flushPromises()
    const text = document.querySelector('[data-testid="password-reset-dialog"]')!.textContent
    expect(text).toContain('主机未能应用')
    expect(text).toContain('chpasswd: user root is locked')
    expect(document.querySelector('[data-testid="reset-new-password"]')).toBeNull()
    await vi.advanceTimersByTimeAsync(RESET_POLL_MS * 3)
    expect(api.getPasswordReset).not.toHaveBeenCalled()
    wrapper.unmount()
  })
})

describe('lease cleanup', () => {
  it('tags a machine being cleaned, with the time it started', () => {
    const wrapper = mountIt(MachineCleanupTag, { machine: cleaning })
    expect(wrapper.find('[data-testid="machine-cleaning"]').text()).toMatch(/^清理中 · \d\d-\d\d \d\d:\d\d 起$/)
    wrapper.unmount()
    const none = mountIt(MachineCleanupTag, { machine })
    expect(none.find('[data-testid="machine-cleaning"]').exists()).toBe(false)
    none.unmount()
  })

  it('follows the steps every few seconds while the cleanup runs, then tells the page it finished', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    vi.mocked(allocApi.getAllocation)
      .mockResolvedValueOnce(allocation('running', 'pending'))
      .mockResolvedValueOnce(allocation('reinstalled', 'skipped'))
    const finished = vi.fn()
    const scope = effectScope()
    const cleanup = scope.run(() => useLeaseCleanup(() => cleaning, finished))!
    await flushPromises()
    expect(allocApi.getAllocation).toHaveBeenCalledWith('al-1')
    expect(cleanup.allocation.value?.hostSteps?.[0]?.state).toBe('pending')
    expect(finished).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(CLEANUP_POLL_MS)
    expect(allocApi.getAllocation).toHaveBeenCalledTimes(2)
    expect(finished).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(CLEANUP_POLL_MS * 3)
    expect(allocApi.getAllocation).toHaveBeenCalledTimes(2)
    scope.stop()
  })

  it('stops following when the page goes away', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    vi.mocked(allocApi.getAllocation).mockResolvedValue(allocation('running', 'pending'))
    const scope = effectScope()
    scope.run(() => useLeaseCleanup(() => cleaning, () => {}))
    await flushPromises()
    scope.stop()
    await vi.advanceTimersByTimeAsync(CLEANUP_POLL_MS * 3)
    expect(allocApi.getAllocation).toHaveBeenCalledTimes(1)
  })

  it('names the steps and their states, and still reads the records from before the host channel', () => {
    const wrapper = mountIt(HostStepList, {
      steps: [
        ...steps('pending').slice(0, 1),
        { step: 'remove_ssh_keys', state: 'confirmed', confirmed: true, detail: '', at: '2026-03-01T08:00:01Z' },
        { step: 'rotate_password', state: 'failed', confirmed: false, detail: 'the host failed: chpasswd (tried again)', at: '2026-03-01T08:00:02Z' },
        { step: 'rotate_agent_key', state: 'skipped', confirmed: false, detail: 'the machine was reinstalled', at: '2026-03-01T08:00:03Z' },
        // an old record: no state
        { step: 'stop_tasks', confirmed: false, detail: 'no agent confirmed', at: '2025-03-01T08:00:00Z' },
        { step: 'rotate_password', confirmed: true, detail: '', at: '2025-03-01T08:00:00Z' },
      ] as HostStep[],
    })
    const text = wrapper.text()
    for (const s of ['停止客户的容器和进程', '等待主机确认', '移除客户的 SSH 公钥', '主机已确认', '更换 SSH 密码', '失败，重试中', 'chpasswd', '更换 Agent 密钥', '已跳过', '停止客户任务', '无 agent 确认']) {
      expect(text).toContain(s)
    }
    expect(wrapper.findAll('[data-state]').map((e) => e.attributes('data-state'))).toEqual([
      'pending',
      'confirmed',
      'failed',
      'skipped',
      'unconfirmed',
      'confirmed',
    ])
    wrapper.unmount()
  })

  it('says what the host did by the step\'s code, in either language, simulated hosts included', async () => {
    const coded = [
      { step: 'stop_tenant', state: 'confirmed', confirmed: true, code: 'lease.step.tenantStopped', params: { containers: 2, processes: 5, simulated: true },
        detail: 'stopped 2 containers and 5 processes (simulated host: nothing changed on it)', at: '2026-03-01T08:00:00Z' },
      { step: 'rotate_agent_key', state: 'pending', confirmed: false, code: 'lease.step.pending', detail: 'waiting for the host agent to confirm', at: '2026-03-01T08:00:00Z' },
      { step: 'remove_ssh_keys', state: 'failed', confirmed: false, code: 'lease.step.failed', params: { error: 'chattr: denied' },
        detail: 'the host failed (tried again): chattr: denied', at: '2026-03-01T08:00:00Z' },
      { step: 'rotate_password', state: 'confirmed', confirmed: true, code: 'lease.step.passwordSet', params: { user: 'root' }, detail: 'new password set for root', at: '2026-03-01T08:00:00Z' },
    ] as HostStep[]
    const wrapper = mountIt(HostStepList, { steps: coded })
    const details = () => wrapper.findAll('[data-testid="host-step-detail"]').map((e) => e.text())
    expect(details()).toEqual(['已停止 2 个容器、5 个进程（模拟主机，未做改动）', '等待主机代理确认', '主机执行失败，稍后重试：chattr: denied', '已为 root 设置新密码'])
    i18n.global.locale.value = 'en'
    await nextTick()
    expect(details()).toEqual([
      'stopped 2 containers and 5 processes (simulated host: nothing changed on it)',
      'waiting for the host agent to confirm',
      'the host failed (tried again): chattr: denied',
      'new password set for root',
    ])
    i18n.global.locale.value = 'zh-CN'
    wrapper.unmount()
  })

  it('marks the machine reinstalled with the note, then offers the new agent token', async () => {
    vi.mocked(api.markMachineReinstalled).mockResolvedValue({ ...machine, status: 'offline' })
    const wrapper = mountIt(ReinstalledDialog, { modelValue: false, machine: cleaning })
    await wrapper.setProps({ modelValue: true })
    await flushPromises()
    const dialog = () => document.querySelector('[data-testid="reinstalled-dialog"]')!
    expect(dialog().textContent).toContain('Agent 密钥立即作废')
    const note = dialog().querySelector('textarea[data-testid="reinstalled-note"]') as HTMLTextAreaElement
    note.value = '  reimaged  '
    note.dispatchEvent(new Event('input'))
    await flushPromises()
    ;(dialog().querySelector('[data-testid="reinstalled-submit"]') as HTMLElement).click()
    await flushPromises()
    expect(api.markMachineReinstalled).toHaveBeenCalledWith(machine.id, 'reimaged')
    expect(wrapper.emitted('done')).toHaveLength(1)
    ;(dialog().querySelector('[data-testid="reinstalled-issue-token"]') as HTMLElement).click()
    await flushPromises()
    expect(wrapper.emitted('issueToken')?.[0]).toEqual([cleaning])
    expect(wrapper.emitted('update:modelValue')?.at(-1)).toEqual([false])
    wrapper.unmount()
  })

  it('offers no end to a lease-cleanup maintenance, and says why', async () => {
    const record = (kind: MaintenanceRecord['kind'], id: string): MaintenanceRecord => ({
      id,
      machineId: machine.id,
      machineName: machine.name,
      reason: kind === 'lease_cleanup' ? 'lease cleanup' : 'fan',
      kind,
      plannedUntil: null,
      startedByName: kind === 'lease_cleanup' ? 'system' : 'admin',
      startedAt: '2026-03-01T08:00:00Z',
      endedByName: '',
      endedAt: null,
      previousStatus: 'online',
    })
    const wrapper = mountIt(MaintenanceTable, { rows: [record('lease_cleanup', 'r1'), record('manual', 'r2')], endable: true })
    await flushPromises()
    const rows = wrapper.findAll('.el-table__body-wrapper tr')
    expect(rows[0]!.text()).toContain('租期清理')
    expect(rows[0]!.find('[data-testid="maintenance-end"]').exists()).toBe(false)
    expect(rows[0]!.find('[data-testid="maintenance-end-blocked"] button').attributes('disabled')).toBeDefined()
    await rows[1]!.find('[data-testid="maintenance-end"]').trigger('click')
    expect(wrapper.emitted('end')?.[0]?.[0]).toMatchObject({ id: 'r2' })
    wrapper.unmount()
  })
})

describe('allocating', () => {
  it('refuses a machine still being cleaned, with the reason', async () => {
    const wrapper = mountIt(AllocateDialog, { modelValue: false, machine: cleaning })
    await wrapper.setProps({ modelValue: true })
    await flushPromises()
    const dialog = document.querySelector('[data-testid="allocate-dialog"]')!
    expect(dialog.querySelector('[data-testid="allocate-cleaning"]')?.textContent).toContain('租期结束后的清理尚未完成')
    const submit = dialog.querySelector('[data-testid="allocate-submit"]') as HTMLButtonElement
    expect(submit.disabled).toBe(true)
    submit.click()
    await flushPromises()
    expect(api.allocateMachine).not.toHaveBeenCalled()
    wrapper.unmount()
  })
})

describe('bootstrap token', () => {
  it('says until when the token works', () => {
    const t = i18n.global.t as (key: string, values?: Record<string, unknown>) => string
    const hint = bootstrapHint(t, '2026-03-02T08:00:00Z')
    expect(hint).toContain('令牌只显示这一次')
    expect(hint).toMatch(/令牌在 2026-03-0\d \d\d:\d\d:\d\d 前有效，只能使用一次/)
    expect(bootstrapHint(t, undefined)).not.toContain('前有效')
  })
})
