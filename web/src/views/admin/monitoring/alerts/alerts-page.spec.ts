import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Alert, AlertRule } from '@/api/types'
import { flushPromises, mountPage } from '@/test/mountPage'
import AlertsPage from './index.vue'
import { ALERT_TYPES, alertMessage, hasThreshold } from './alertText'
import { rulesInput } from './useAlertRules'
import { i18n } from '@/locales'

vi.mock('@/api/alerts', () => ({
  listAlerts: vi.fn(),
  acknowledgeAlert: vi.fn(),
  resolveAlert: vi.fn(),
  ignoreAlert: vi.fn(),
  getAlertRules: vi.fn(),
  updateAlertRules: vi.fn(),
}))
vi.mock('@/utils/confirm', () => ({ confirmAction: vi.fn(async () => true) }))
const api = await import('@/api/alerts')
const { confirmAction } = await import('@/utils/confirm')

const alert: Alert = {
  id: 'a1',
  machineId: '3f0c2a52-0d47-4f0e-9a3a-1f0b2c3d4e5f',
  machineName: 'gpu-bj-001',
  region: '北京',
  gpuIndex: null,
  type: 'offline',
  level: 'critical',
  status: 'active',
  code: 'alerting.offline',
  params: { seconds: 30 },
  message: 'machine offline: no data for 30 s or more',
  value: null,
  threshold: null,
  durationSeconds: 30,
  handled: false,
  resolution: '',
  note: '',
  notificationQueued: true,
  startedAt: '2026-01-01T00:00:00Z',
  createdAt: '2026-01-01T00:00:30Z',
  updatedAt: '2026-01-01T00:00:30Z',
  acknowledgedAt: null,
  acknowledgedBy: '',
  resolvedAt: null,
  resolvedBy: '',
  resolvedValue: null,
}

const rule = (type: AlertRule['type'], threshold: number | null, durationSeconds: number): AlertRule => ({
  type,
  level: type === 'offline' || type === 'gpu_temperature' ? 'critical' : 'warning',
  threshold,
  clearMargin: 5,
  durationSeconds,
  enabled: true,
  updatedAt: '2026-01-01T00:00:00Z',
  updatedBy: '',
})
const rules = [
  rule('gpu_temperature', 85, 60),
  rule('disk_usage', 90, 300),
  rule('memory_usage', 95, 300),
  rule('offline', null, 30),
  rule('lease_cleanup', null, 1800),
]

describe('alert management page', () => {
  afterEach(() => vi.clearAllMocks())

  it('asks the API for the filters of the URL and shows the text in the console’s language', async () => {
    vi.mocked(api.listAlerts).mockResolvedValue({ list: [alert], total: 1, page: 1, pageSize: 20 })
    const { wrapper } = await mountPage(
      AlertsPage,
      `/admin/monitoring/alerts?status=open&level=critical&type=bogus&machineId=${alert.machineId}&from=2026-01-01T00:00:00%2B08:00`,
    )
    expect(api.listAlerts).toHaveBeenCalledWith({
      page: 1,
      pageSize: 20,
      sortBy: 'createdAt',
      order: 'desc',
      level: 'critical',
      type: undefined,
      status: 'open',
      keyword: undefined,
      machineId: alert.machineId,
      from: '2026-01-01T00:00:00+08:00',
      to: undefined,
    })
    const table = wrapper.find('[data-testid="alert-table"]')
    expect(table.text()).toContain('gpu-bj-001')
    expect(table.text()).toContain('机器离线，已 30 秒以上没有上报数据')
    expect(table.text()).not.toContain('machine offline')
    expect(table.text()).toContain('严重')
    expect(table.text()).toContain('未处理')
    wrapper.unmount()
  })

  it('acknowledges after a confirmation and shows the list again', async () => {
    vi.mocked(api.listAlerts).mockResolvedValue({ list: [alert], total: 1, page: 1, pageSize: 20 })
    vi.mocked(api.acknowledgeAlert).mockResolvedValue({ ...alert, status: 'acknowledged', acknowledgedBy: 'admin' })
    const { wrapper } = await mountPage(AlertsPage, '/admin/monitoring/alerts')
    vi.mocked(api.listAlerts).mockResolvedValue({
      list: [{ ...alert, status: 'acknowledged', acknowledgedBy: 'admin', acknowledgedAt: '2026-01-01T00:01:00Z' }],
      total: 1,
      page: 1,
      pageSize: 20,
    })
    await wrapper.find('[data-testid="alert-acknowledge"]').trigger('click')
    await flushPromises()
    expect(confirmAction).toHaveBeenCalledTimes(1)
    expect(api.acknowledgeAlert).toHaveBeenCalledWith('a1')
    expect(api.listAlerts).toHaveBeenCalledTimes(2)
    expect(wrapper.find('[data-testid="alert-table"]').text()).toContain('已确认')
    // an acknowledged alert can still be resolved or ignored, not acknowledged again
    expect(wrapper.find('[data-testid="alert-acknowledge"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="alert-resolve"]').exists()).toBe(true)
    wrapper.unmount()
  })

  it('does nothing when the confirmation is cancelled', async () => {
    vi.mocked(api.listAlerts).mockResolvedValue({ list: [alert], total: 1, page: 1, pageSize: 20 })
    vi.mocked(confirmAction).mockResolvedValueOnce(false)
    const { wrapper } = await mountPage(AlertsPage, '/admin/monitoring/alerts')
    await wrapper.find('[data-testid="alert-ignore"]').trigger('click')
    await flushPromises()
    expect(api.ignoreAlert).not.toHaveBeenCalled()
    wrapper.unmount()
  })

  it('saves the rules form with every rule, no threshold for offline and lease cleanup', async () => {
    vi.mocked(api.listAlerts).mockResolvedValue({ list: [], total: 0, page: 1, pageSize: 20 })
    vi.mocked(api.getAlertRules).mockResolvedValue(rules)
    vi.mocked(api.updateAlertRules).mockImplementation(async (input) => input.map((r) => ({ ...rule(r.type, r.threshold ?? null, r.durationSeconds), ...r })))
    const { wrapper } = await mountPage(AlertsPage, '/admin/monitoring/alerts')
    await wrapper.findAll('[data-testid="alert-tabs"] .el-tabs__item')[1]!.trigger('click')
    await flushPromises()
    const rows = wrapper.findAll('[data-testid="alert-rules-table"] .el-table__body-wrapper tr')
    expect(rows).toHaveLength(5)
    // lease cleanup overdue: a duration ("raise after"), no threshold field
    expect(rows[4]!.text()).toContain('租期清理超时')
    expect(wrapper.find('[data-testid="rule-threshold-lease_cleanup"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="rule-no-threshold-lease_cleanup"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="rule-duration-of-lease_cleanup"]').text()).toContain('清理开始后超过此时长')
    await wrapper.find('[data-testid="rule-threshold-gpu_temperature"] input').setValue('80')
    await wrapper.find('[data-testid="rule-threshold-gpu_temperature"] input').trigger('change')
    await wrapper.find('[data-testid="rule-duration-lease_cleanup"] input').setValue('3600')
    await wrapper.find('[data-testid="rule-duration-lease_cleanup"] input').trigger('change')
    await wrapper.find('[data-testid="alert-rules-save"]').trigger('click')
    await flushPromises()
    expect(api.updateAlertRules).toHaveBeenCalledWith([
      { type: 'gpu_temperature', level: 'critical', enabled: true, durationSeconds: 60, threshold: 80 },
      { type: 'disk_usage', level: 'warning', enabled: true, durationSeconds: 300, threshold: 90 },
      { type: 'memory_usage', level: 'warning', enabled: true, durationSeconds: 300, threshold: 95 },
      { type: 'offline', level: 'critical', enabled: true, durationSeconds: 30 },
      { type: 'lease_cleanup', level: 'warning', enabled: true, durationSeconds: 3600 },
    ])
    wrapper.unmount()
    // five rows of Element Plus inputs: slow on a loaded 2-core machine
  }, 20_000)

  it('offers lease cleanup overdue as a type filter and names it in the list', async () => {
    const overdue: Alert = {
      ...alert,
      id: 'a2',
      type: 'lease_cleanup',
      level: 'warning',
      durationSeconds: 1800,
      code: 'alerting.leaseCleanupStuck',
      params: { minutes: 30, steps: 'stop_tenant' },
      message: 'the end-of-lease cleanup is not done after 30 minutes; waiting for the host to confirm: stop_tenant',
    }
    vi.mocked(api.listAlerts).mockResolvedValue({ list: [overdue], total: 1, page: 1, pageSize: 20 })
    const { wrapper } = await mountPage(AlertsPage, '/admin/monitoring/alerts?type=lease_cleanup')
    expect(api.listAlerts).toHaveBeenCalledWith(expect.objectContaining({ type: 'lease_cleanup' }))
    const table = wrapper.find('[data-testid="alert-table"]')
    expect(table.text()).toContain('租期清理超时')
    expect(table.text()).toContain('租期结束 30 分钟后清理仍未完成，待主机确认：stop_tenant')
    expect(table.text()).not.toContain('waiting for the host')
    wrapper.unmount()
  })
})

describe('alert text', () => {
  it('renders the code with its figures in the console’s language', () => {
    const disk = { code: 'alerting.diskUsageOn', params: { mount: '/', value: '91.0', threshold: 90, seconds: 300 }, message: 'disk usage (/) 91.0% ≥ 90% for 300 s' }
    i18n.global.locale.value = 'en'
    expect(alertMessage(disk)).toBe('disk usage (/) 91.0% ≥ 90% for 300 s')
    i18n.global.locale.value = 'zh-CN'
    expect(alertMessage(disk)).toBe('磁盘使用率 (/) 91.0% ≥ 90%，持续 300 秒')
    const gpu = { code: 'alerting.gpuTemperature', params: { gpu: 3, value: '90.0', threshold: 85, seconds: 60 }, message: '' }
    expect(alertMessage(gpu)).toBe('GPU 3 温度 90.0 °C ≥ 85 °C，持续 60 秒')
    // a code the console does not know: the API's English text
    expect(alertMessage({ code: 'alerting.somethingNew', params: {}, message: 'something new' })).toBe('something new')
  })

  it('shows the message of an alert without a code', () => {
    expect(alertMessage({ code: '', params: {}, message: 'only one text' })).toBe('only one text')
  })

  it('leaves the threshold out of the offline and lease cleanup rules', () => {
    expect(rulesInput([{ type: 'offline', enabled: false, level: 'warning', threshold: null, durationSeconds: 5, updatedAt: '', updatedBy: '' }])).toEqual([
      { type: 'offline', level: 'warning', enabled: false, durationSeconds: 5 },
    ])
    // even with one in the row (the API would ignore it: it stays null)
    expect(rulesInput([{ type: 'lease_cleanup', enabled: true, level: 'critical', threshold: 50, durationSeconds: 7200, updatedAt: '', updatedBy: '' }])).toEqual([
      { type: 'lease_cleanup', level: 'critical', enabled: true, durationSeconds: 7200 },
    ])
  })

  it('has a type for every alert type, lease cleanup last', () => {
    expect(ALERT_TYPES).toEqual(['gpu_temperature', 'disk_usage', 'memory_usage', 'offline', 'lease_cleanup'])
    expect(ALERT_TYPES.filter(hasThreshold)).toEqual(['gpu_temperature', 'disk_usage', 'memory_usage'])
  })
})
