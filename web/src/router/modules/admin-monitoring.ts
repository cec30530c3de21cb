import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { DataLine } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['admin']

// 2.1.5 监控中心
export default {
  path: '/admin/monitoring',
  name: 'AdminMonitoring',
  redirect: '/admin/monitoring/realtime',
  meta: { title: 'menu.monitoring', icon: markRaw(DataLine), roles, rank: 50 },
  children: [
    {
      path: '/admin/monitoring/realtime',
      name: 'AdminMonitoringRealtime',
      component: () => import('@/views/admin/monitoring/realtime/index.vue'),
      meta: { title: 'menu.realtime', roles },
    },
    {
      path: '/admin/monitoring/alerts',
      name: 'AdminAlerts',
      component: () => import('@/views/admin/monitoring/alerts/index.vue'),
      meta: { title: 'menu.alerts', roles },
    },
  ],
} satisfies RouteRecordRaw
