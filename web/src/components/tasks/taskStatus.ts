// What a task's status allows, and how long it has run.
import type { Task, TaskStatus } from '@/api/tasks'
import { codeText, i18n } from '@/locales'

export const TASK_STATUSES: TaskStatus[] = ['queued', 'running', 'succeeded', 'failed', 'stopped']
export const ACTIVE_STATUSES: TaskStatus[] = ['queued', 'running']
export const ENDED_STATUSES: TaskStatus[] = ['succeeded', 'failed', 'stopped']

export const isActive = (s: TaskStatus | null | undefined): boolean => !!s && ACTIVE_STATUSES.includes(s)
export const isEnded = (s: TaskStatus | null | undefined): boolean => !!s && ENDED_STATUSES.includes(s)

/** Stop: before it ended. */
export const canStop = (t: Pick<Task, 'status'>) => isActive(t.status)
/** Re-run: a new attempt of an ended task. */
export const canRestart = (t: Pick<Task, 'status'>) => isEnded(t.status)
/** Delete: only once it ended (its container would otherwise be left running). */
export const canDelete = (t: Pick<Task, 'status'>) => isEnded(t.status)

/**
 * Seconds the task has run: the API's figure, and while it runs the time
 * since it started (ticking with `now`).
 */
export function runSeconds(t: Pick<Task, 'status' | 'startedAt' | 'durationSeconds'>, now: number = Date.now()): number | null {
  if (t.status === 'running' && t.startedAt) {
    const started = Date.parse(t.startedAt)
    if (Number.isFinite(started)) return Math.max(0, Math.floor((now - started) / 1000))
  }
  if (!t.startedAt && !t.durationSeconds) return null
  return Math.max(0, Math.floor(t.durationSeconds ?? 0))
}

/** `3d 4h`, `1h 02m`, `5m 07s`, `42s`; '—' when it has not run. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—'
  const s = Math.floor(seconds)
  const d = Math.floor(s / 86_400)
  const h = Math.floor((s % 86_400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  const t = i18n.global.t
  const pad = (n: number) => String(n).padStart(2, '0')
  if (d) return t('task.durationFmt.dh', { d, h })
  if (h) return t('task.durationFmt.hm', { h, m: pad(m) })
  if (m) return t('task.durationFmt.ms', { m, s: pad(sec) })
  return t('task.durationFmt.s', { s: sec })
}

export const REASON_RESTARTING = 'tasks.reason.restarting'

/**
 * The reason of a status (a `tasks.reason.*` code and its params) in the
 * console's language; '' when none. A task waiting to restart says why the
 * attempt before ended too (params.lastReason, lastParams).
 */
export function reasonText(code: string | null | undefined, params: Record<string, unknown> | null | undefined = {}): string {
  if (!code) return ''
  const p = params ?? {}
  const text = codeText(code, p, code)
  if (code === REASON_RESTARTING && typeof p.lastReason === 'string' && p.lastReason) {
    const last = reasonText(p.lastReason, (p.lastParams as Record<string, unknown> | null) ?? {})
    return last ? `${text} · ${last}` : text
  }
  return text
}
