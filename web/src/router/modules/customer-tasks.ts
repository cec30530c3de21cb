import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { Cpu } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['owner', 'member']
const list = '/customer/tasks/list'
const page = () => import('@/views/customer/tasks/list/index.vue')

// 3.1.3 任务管理: the list page's four tabs are the group's entries (3.2)
export default {
  path: '/customer/tasks',
  name: 'CustomerTasks',
  redirect: list,
  meta: { title: 'menu.tasks', icon: markRaw(Cpu), roles, rank: 30 },
  children: [
    {
      path: list,
      name: 'CustomerTaskList',
      component: page,
      meta: { title: 'menu.trainingTasks', roles },
    },
    {
      path: '/customer/tasks/inference',
      name: 'CustomerInferenceTasks',
      component: page,
      meta: { title: 'menu.inferenceTasks', roles },
    },
    {
      path: '/customer/tasks/queue',
      name: 'CustomerTaskQueue',
      component: page,
      meta: { title: 'menu.taskQueue', roles },
    },
    {
      path: '/customer/tasks/history',
      name: 'CustomerTaskHistory',
      component: page,
      meta: { title: 'menu.taskHistory', roles },
    },
    {
      path: '/customer/tasks/create-training',
      name: 'CustomerCreateTask',
      component: () => import('@/views/customer/tasks/create/index.vue'),
      meta: { title: 'menu.createTask', roles },
    },
    {
      path: '/customer/tasks/:id',
      name: 'CustomerTaskDetail',
      component: () => import('@/views/customer/tasks/detail/index.vue'),
      meta: { title: 'menu.taskDetail', roles, hidden: true, activeMenu: list },
    },
  ],
} satisfies RouteRecordRaw
