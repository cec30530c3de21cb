import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { i18n } from '@/locales'
import { formatTime } from '@/utils/format'
import ServiceHealthTag from './ServiceHealthTag.vue'

function render(health: { state: 'up' | 'down' | 'unknown'; checkedAt: string | null; httpStatus: number | null } | null) {
  i18n.global.locale.value = 'zh-CN'
  return mount(ServiceHealthTag, { props: { health }, global: { plugins: [i18n] } })
}

describe('service health tag', () => {
  it('says 正常 with the check time when the service answered', () => {
    const at = '2026-01-01T00:00:10Z'
    const w = render({ state: 'up', checkedAt: at, httpStatus: 404 })
    expect(w.get('[data-testid="task-service-health"]').attributes('data-state')).toBe('up')
    expect(w.text()).toContain('正常')
    expect(w.get('[data-testid="task-service-checked"]').text()).toBe(`检查于 ${formatTime(at)}`)
    expect(w.find('[title="HTTP 404"]').exists()).toBe(true)
  })

  it('says 无响应 when it did not answer, 未知 without a recent probe', () => {
    expect(render({ state: 'down', checkedAt: '2026-01-01T00:00:10Z', httpStatus: null }).text()).toContain('无响应')
    const unknown = render({ state: 'unknown', checkedAt: null, httpStatus: null })
    expect(unknown.text()).toContain('未知')
    expect(unknown.find('[data-testid="task-service-checked"]').exists()).toBe(false)
    expect(render(null).text()).toContain('未知')
  })

  it('speaks English too', async () => {
    const w = render({ state: 'down', checkedAt: null, httpStatus: null })
    i18n.global.locale.value = 'en'
    await w.vm.$nextTick()
    expect(w.text()).toContain('No response')
    i18n.global.locale.value = 'zh-CN'
  })
})
