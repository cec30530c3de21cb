import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { Odometer } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['admin']

// 2.1.1 管理后台首页 (实时监控 and 告警中心 come with the monitoring issue)
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
  ],
} satisfies RouteRecordRaw
