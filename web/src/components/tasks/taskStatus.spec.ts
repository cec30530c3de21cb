import { describe, expect, it } from 'vitest'
import { i18n } from '@/locales'
import { canDelete, canRestart, canStop, formatDuration, reasonText, runSeconds } from './taskStatus'

describe('task status', () => {
  it('allows stop before the end, re-run and delete after it', () => {
    for (const s of ['queued', 'running'] as const) {
      expect([canStop({ status: s }), canRestart({ status: s }), canDelete({ status: s })]).toEqual([true, false, false])
    }
    for (const s of ['succeeded', 'failed', 'stopped'] as const) {
      expect([canStop({ status: s }), canRestart({ status: s }), canDelete({ status: s })]).toEqual([false, true, true])
    }
  })

  it('counts a running task’s time from its start, an ended one’s from the API', () => {
    const now = Date.parse('2026-01-01T01:00:00Z')
    expect(runSeconds({ status: 'running', startedAt: '2026-01-01T00:58:55Z', durationSeconds: 3 }, now)).toBe(65)
    expect(runSeconds({ status: 'failed', startedAt: '2026-01-01T00:00:00Z', durationSeconds: 3725 }, now)).toBe(3725)
    expect(runSeconds({ status: 'queued', startedAt: null, durationSeconds: 0 }, now)).toBeNull()
  })

  it('writes durations short, in the console’s language', () => {
    i18n.global.locale.value = 'zh-CN'
    expect([formatDuration(42), formatDuration(307), formatDuration(3725), formatDuration(2 * 86_400 + 3 * 3600), formatDuration(null)]).toEqual([
      '42秒',
      '5分07秒',
      '1小时02分',
      '2天3小时',
      '—',
    ])
    i18n.global.locale.value = 'en'
    expect(formatDuration(3725)).toBe('1h 02m')
    i18n.global.locale.value = 'zh-CN'
  })

  it('translates reasons with their figures; a restart says why the attempt before ended', () => {
    expect(reasonText('tasks.reason.exitCode', { code: 2 })).toBe('进程以退出码 2 结束')
    expect(reasonText('tasks.reason.stoppedByAdmin', { reason: '主机维护' })).toBe('已由平台管理员停止：主机维护')
    expect(
      reasonText('tasks.reason.restarting', { attempt: 2, backoffSeconds: 10, lastReason: 'tasks.reason.exitCode', lastParams: { code: 1 } }),
    ).toBe('10 秒后开始第 2 次运行 · 进程以退出码 1 结束')
    // a code the console does not know yet shows as it is
    expect(reasonText('tasks.reason.somethingNew')).toBe('tasks.reason.somethingNew')
    expect(reasonText('')).toBe('')
  })
})
