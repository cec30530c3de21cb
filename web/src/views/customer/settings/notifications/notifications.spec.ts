import { afterEach, describe, expect, it, vi } from 'vitest'
import { nextTick } from 'vue'
import dayjs from 'dayjs'
import type { Notification, NotificationPage } from '@/api/types'
import { i18n } from '@/locales'
import { mountPage } from '@/test/mountPage'

vi.mock('@/api/notifications', () => ({
  listNotifications: vi.fn(),
  markNotificationRead: vi.fn(),
  markAllNotificationsRead: vi.fn(),
}))
const api = await import('@/api/notifications')
const { default: InboxPage } = await import('./index.vue')

const endAt = '2026-03-01T08:30:00Z'
const notice = (over: Partial<Notification>): Notification => ({
  id: 'n1',
  title: '',
  content: '',
  code: '',
  params: {},
  level: 'warning',
  readAt: null,
  createdAt: '2026-02-27T08:30:00Z',
  ...over,
})

const list: Notification[] = [
  notice({
    id: 'lease',
    code: 'notices.leaseExpiring',
    params: { machine: 'gpu-01', gpuModel: 'A100', gpuCount: 8, endAt },
    title: 'Machine lease ending soon: gpu-01',
    content: 'Your lease of machine gpu-01 (8 × A100) ends on 2026-03-01 08:30 UTC. …',
  }),
  notice({
    id: 'task',
    code: 'notices.taskStoppedByAdmin',
    params: { taskId: 't1', name: 'train-1', status: 'stopped', reason: 'maintenance', statusReason: 'tasks.reason.stoppedByAdmin' },
    title: 'Task stopped: train-1',
    content: 'Your task train-1 was stopped by a platform administrator. Reason: maintenance',
  }),
  notice({
    id: 'failed',
    code: 'notices.taskFailed',
    params: { taskId: 't2', name: 'train-2', status: 'failed' },
    title: 'Task failed: train-2',
    content: 'Your task train-2 has ended with the status failed. …',
  }),
  // an admin's message and an older notice: their stored text, as it is
  notice({ id: 'admin', level: 'info', title: '维护通知', content: '本周六 02:00 维护' }),
  notice({ id: 'old', title: '机器即将到期：gpu-02 / Machine lease ending soon: gpu-02', content: 'old text' }),
  // a code this console does not know: the stored English text
  notice({ id: 'new', code: 'notices.somethingNew', params: { x: 1 }, title: 'Something new', content: 'New text' }),
]

afterEach(() => {
  vi.clearAllMocks()
  document.body.innerHTML = ''
  i18n.global.locale.value = 'zh-CN'
})

const rows = () =>
  Array.from(document.querySelectorAll('[data-testid="notification-list"] .item')).map((el) => ({
    title: el.querySelector('[data-testid="notification-title"]')?.textContent?.trim(),
    content: el.querySelector('[data-testid="notification-content"]')?.textContent?.trim(),
  }))

describe('notification inbox', () => {
  it('renders system notices from their code in both languages, other messages as stored', async () => {
    const page: NotificationPage = { list, total: list.length, page: 1, pageSize: 20, unread: list.length }
    vi.mocked(api.listNotifications).mockResolvedValue(page)
    const { wrapper } = await mountPage(InboxPage, '/customer/settings/notifications', { session: true })
    const end = dayjs(endAt).format('YYYY-MM-DD HH:mm')

    let r = rows()
    expect(r).toHaveLength(6)
    expect(r[0].title).toBe('机器即将到期：gpu-01')
    expect(r[0].content).toBe(
      `您租用的机器 gpu-01（8 × A100）将于 ${end} 到期，到期后机器将被回收，其上的任务会被停止。如需继续使用，请联系管理员续期。`,
    )
    expect(r[1]).toEqual({ title: '任务已停止：train-1', content: '您的任务 train-1 已被平台管理员停止。原因：maintenance' })
    expect(r[2]).toEqual({ title: '任务失败：train-2', content: '您的任务 train-2 已结束，状态：失败。详情与日志请在任务详情页查看。' })
    expect(r[3]).toEqual({ title: '维护通知', content: '本周六 02:00 维护' })
    expect(r[4]).toEqual({ title: '机器即将到期：gpu-02 / Machine lease ending soon: gpu-02', content: 'old text' })
    expect(r[5]).toEqual({ title: 'Something new', content: 'New text' })

    i18n.global.locale.value = 'en'
    await nextTick()
    r = rows()
    expect(r[0].title).toBe('Machine lease ending soon: gpu-01')
    expect(r[0].content).toBe(
      `Your lease of machine gpu-01 (8 × A100) ends on ${end}. The machine is then reclaimed and the tasks on it are stopped; contact your administrator to renew it.`,
    )
    expect(r[1]).toEqual({ title: 'Task stopped: train-1', content: 'Your task train-1 was stopped by a platform administrator. Reason: maintenance' })
    expect(r[2]).toEqual({
      title: 'Task failed: train-2',
      content: 'Your task train-2 has ended with the status Failed. Its details and logs are on the task page.',
    })
    expect(r[3]).toEqual({ title: '维护通知', content: '本周六 02:00 维护' })
    expect(r[5]).toEqual({ title: 'Something new', content: 'New text' })
    wrapper.unmount()
  })
})
