import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { Connection } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['admin']

// 2.1.4 分配管理. The group has no page of its own (and no redirect), so
// /admin/allocations is the records page, not the group.
export default {
  path: '/admin/allocations',
  meta: { title: 'menu.allocations', icon: markRaw(Connection), roles, rank: 40 },
  children: [
    {
      path: '/admin/allocations',
      name: 'AdminAllocationList',
      component: () => import('@/views/admin/allocations/list/index.vue'),
      meta: { title: 'menu.allocationList', roles },
    },
    {
      path: '/admin/allocations/quick',
      name: 'AdminQuickAllocation',
      component: () => import('@/views/admin/allocations/quick/index.vue'),
      meta: { title: 'menu.quickAllocation', roles },
    },
    {
      // the records page on its 即将到期 tab
      path: '/admin/allocations/expiring',
      name: 'AdminAllocationsExpiring',
      component: () => import('@/views/admin/allocations/list/index.vue'),
      meta: { title: 'menu.allocationsExpiring', roles },
    },
  ],
} satisfies RouteRecordRaw
