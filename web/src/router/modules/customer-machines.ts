import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { Monitor } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['owner', 'member']
const list = '/customer/machines/list'

// 3.1.2 我的机器
export default {
  path: '/customer/machines',
  name: 'CustomerMachines',
  redirect: list,
  meta: { title: 'menu.myMachines', icon: markRaw(Monitor), roles, rank: 20 },
  children: [
    {
      path: list,
      name: 'CustomerMachineList',
      component: () => import('@/views/customer/machines/list/index.vue'),
      meta: { title: 'menu.machineList', roles },
    },
    {
      path: '/customer/machines/connect',
      name: 'CustomerQuickConnect',
      component: () => import('@/views/customer/machines/connect/index.vue'),
      meta: { title: 'menu.quickConnect', roles },
    },
    {
      path: '/customer/machines/history',
      name: 'CustomerConnectionHistory',
      component: () => import('@/views/customer/machines/history/index.vue'),
      meta: { title: 'menu.connectionHistory', roles },
    },
    {
      path: '/customer/machines/:id',
      name: 'CustomerMachineDetail',
      component: () => import('@/views/customer/machines/detail/index.vue'),
      meta: { title: 'menu.machineDetail', roles, hidden: true, activeMenu: list },
    },
  ],
} satisfies RouteRecordRaw
