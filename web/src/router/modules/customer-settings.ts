import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { Setting } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['owner', 'member']

// 3.1.10 设置
export default {
  path: '/customer/settings',
  name: 'CustomerSettings',
  redirect: '/customer/settings/profile',
  meta: { title: 'menu.settings', icon: markRaw(Setting), roles, rank: 100 },
  children: [
    {
      path: '/customer/settings/profile',
      name: 'CustomerProfile',
      component: () => import('@/views/customer/settings/profile/index.vue'),
      meta: { title: 'menu.profile', roles },
    },
    {
      path: '/customer/settings/ssh-keys',
      name: 'CustomerSshKeys',
      component: () => import('@/views/customer/settings/ssh-keys/index.vue'),
      meta: { title: 'menu.sshKeys', roles },
    },
    {
      path: '/customer/settings/notifications',
      name: 'CustomerNotifications',
      component: () => import('@/views/customer/settings/notifications/index.vue'),
      meta: { title: 'menu.notifications', roles },
    },
  ],
} satisfies RouteRecordRaw
