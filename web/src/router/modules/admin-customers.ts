import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { UserFilled } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['admin']
const list = '/admin/customers/list'

// 2.1.3 客户管理
export default {
  path: '/admin/customers',
  name: 'AdminCustomers',
  redirect: list,
  meta: { title: 'menu.customers', icon: markRaw(UserFilled), roles, rank: 30 },
  children: [
    {
      path: list,
      name: 'AdminCustomerList',
      component: () => import('@/views/admin/customers/list/index.vue'),
      meta: { title: 'menu.customerList', roles },
    },
    {
      path: '/admin/customers/add',
      name: 'AdminCustomerAdd',
      component: () => import('@/views/admin/customers/form/index.vue'),
      meta: { title: 'menu.customerAdd', roles },
    },
    {
      path: '/admin/customers/:id',
      name: 'AdminCustomerDetail',
      component: () => import('@/views/admin/customers/detail/index.vue'),
      meta: { title: 'menu.customerDetail', roles, hidden: true, activeMenu: list },
    },
    {
      path: '/admin/customers/:id/edit',
      name: 'AdminCustomerEdit',
      component: () => import('@/views/admin/customers/form/index.vue'),
      meta: { title: 'menu.customerEdit', roles, hidden: true, activeMenu: list },
    },
  ],
} satisfies RouteRecordRaw
