import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { HomeFilled } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['owner', 'member']

// 3.1.1 工作台首页 (its quick actions are part of the page)
export default {
  path: '/customer',
  name: 'CustomerHome',
  redirect: '/customer/dashboard',
  meta: { title: 'menu.customerHome', icon: markRaw(HomeFilled), roles, rank: 10 },
  children: [
    {
      path: '/customer/dashboard',
      name: 'CustomerDashboard',
      component: () => import('@/views/customer/dashboard/index.vue'),
      meta: { title: 'menu.overview', roles },
    },
  ],
} satisfies RouteRecordRaw
