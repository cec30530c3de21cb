import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { Odometer } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['admin']

// 2.1.1 管理后台首页. Its 实时监控 and 告警中心 entries (2.2) are the pages of
// 监控中心: their own paths only lead there, so each page has one address.
export default {
  path: '/admin',
  name: 'AdminHome',
  redirect: '/admin/dashboard',
  meta: { title: 'menu.adminHome', icon: markRaw(Odometer), roles, rank: 10 },
  children: [
    {
      path: '/admin/dashboard',
      name: 'AdminDashboard',
      component: () => import('@/views/admin/dashboard/index.vue'),
      meta: { title: 'menu.overview', roles },
    },
    {
      path: '/admin/dashboard/realtime',
      name: 'AdminHomeRealtime',
      redirect: '/admin/monitoring/realtime',
      meta: { title: 'menu.realtime', roles },
    },
    {
      path: '/admin/dashboard/alerts',
      name: 'AdminHomeAlerts',
      redirect: { path: '/admin/monitoring/alerts', query: { status: 'open' } },
      meta: { title: 'menu.alertCenter', roles },
    },
  ],
} satisfies RouteRecordRaw
