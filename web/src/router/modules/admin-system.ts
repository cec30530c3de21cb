import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { Setting } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['admin']

// 系统设置 (2.2)
export default {
  path: '/admin/system',
  name: 'AdminSystem',
  redirect: '/admin/system/audit-logs',
  meta: { title: 'menu.system', icon: markRaw(Setting), roles, rank: 100 },
  children: [
    {
      path: '/admin/system/audit-logs',
      name: 'AdminAuditLogs',
      component: () => import('@/views/admin/system/audit-logs/index.vue'),
      meta: { title: 'menu.auditLogs', roles },
    },
    {
      path: '/admin/system/announcements',
      name: 'AdminAnnouncements',
      component: () => import('@/views/admin/system/announcements/index.vue'),
      meta: { title: 'menu.announcements', roles },
    },
  ],
} satisfies RouteRecordRaw
