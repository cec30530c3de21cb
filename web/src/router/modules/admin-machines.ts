import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { Monitor } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['admin']
const list = '/admin/machines/list'

// 2.1.2 机器管理
export default {
  path: '/admin/machines',
  name: 'AdminMachines',
  redirect: list,
  meta: { title: 'menu.machines', icon: markRaw(Monitor), roles, rank: 20 },
  children: [
    {
      path: list,
      name: 'AdminMachineList',
      component: () => import('@/views/admin/machines/list/index.vue'),
      meta: { title: 'menu.machineList', roles },
    },
    {
      path: '/admin/machines/add',
      name: 'AdminMachineAdd',
      component: () => import('@/views/admin/machines/form/index.vue'),
      meta: { title: 'menu.machineAdd', roles },
    },
    {
      path: '/admin/machines/import',
      name: 'AdminMachineImport',
      component: () => import('@/views/admin/machines/import/index.vue'),
      meta: { title: 'menu.machineImport', roles },
    },
    {
      path: '/admin/machines/maintenance',
      name: 'AdminMaintenance',
      component: () => import('@/views/admin/machines/maintenance/index.vue'),
      meta: { title: 'menu.maintenance', roles },
    },
    {
      path: '/admin/machines/:id',
      name: 'AdminMachineDetail',
      component: () => import('@/views/admin/machines/detail/index.vue'),
      meta: { title: 'menu.machineDetail', roles, hidden: true, activeMenu: list },
    },
    {
      path: '/admin/machines/:id/edit',
      name: 'AdminMachineEdit',
      component: () => import('@/views/admin/machines/form/index.vue'),
      meta: { title: 'menu.machineEdit', roles, hidden: true, activeMenu: list },
    },
  ],
} satisfies RouteRecordRaw
