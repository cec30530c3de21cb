import type { Notification } from '@/api/types'
import { codeText, i18n } from '@/locales'
import { formatTime } from '@/utils/format'

type Notice = Pick<Notification, 'code' | 'params' | 'title' | 'content'>

/**
 * The figures of a system notice, with what the console adds to them: the
 * end of a lease in local time (endAtText) and a task's status in the
 * console's language (statusText).
 */
function noticeParams(n: Notice): Record<string, unknown> {
  const p: Record<string, unknown> = { ...((n.params as Record<string, unknown> | null) ?? {}) }
  if (typeof p.endAt === 'string') p.endAtText = formatTime(p.endAt, 'YYYY-MM-DD HH:mm')
  if (typeof p.status === 'string') {
    const key = `status.task.${p.status}`
    p.statusText = i18n.global.te(key) ? i18n.global.t(key) : p.status
  }
  return p
}

/**
 * A notification's title and content in the console's language: a system
 * notice's code with its figures (codes/notices.ts, title and content under
 * the code); the stored text for an admin's message, an older notice, or a
 * code the console does not know.
 */
export function noticeText(n: Notice): { title: string; content: string } {
  if (!n.code) return { title: n.title, content: n.content }
  const p = noticeParams(n)
  return { title: codeText(`${n.code}.title`, p, n.title), content: codeText(`${n.code}.content`, p, n.content) }
}
