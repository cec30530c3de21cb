import { ref } from 'vue'
import { defineStore } from 'pinia'
import { listNotifications } from '@/api/notifications'

/** The unread count behind the header badge (customers only). */
export const useNotificationStore = defineStore('notification', () => {
  const unread = ref(0)

  async function refreshUnread() {
    try {
      const page = await listNotifications({ unread: true, page: 1, pageSize: 1 }, { silent: true })
      unread.value = page.unread ?? page.total
    } catch {
      // a badge is not worth a toast
    }
  }

  function setUnread(n: number) {
    unread.value = n
  }

  return { unread, refreshUnread, setUnread }
})
