import { ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import { listNotifications, markAllNotificationsRead, markNotificationRead } from '@/api/notifications'
import type { Notification } from '@/api/types'
import { useTable } from '@/composables/useTable'
import { useNotificationStore } from '@/store/modules/notification'

export function useNotifications() {
  const { t } = useI18n()
  const store = useNotificationStore()
  const onlyUnread = ref(false)

  const table = useTable<Notification>(
    async (page) => {
      const result = await listNotifications({ ...page, unread: onlyUnread.value || undefined })
      store.setUnread(result.unread ?? 0)
      return result
    },
    { pageSize: 20, sortBy: 'createdAt', order: 'desc' },
  )

  const busy = ref(false)

  async function markRead(n: Notification) {
    if (n.readAt) return
    try {
      await markNotificationRead(n.id)
      await table.load()
    } catch {
      // reported by the HTTP layer
    }
  }

  async function markAllRead() {
    busy.value = true
    try {
      await markAllNotificationsRead()
      ElMessage.success(t('notification.allRead'))
      await table.search()
    } catch {
      // reported by the HTTP layer
    } finally {
      busy.value = false
    }
  }

  return { ...table, onlyUnread, busy, markRead, markAllRead }
}
