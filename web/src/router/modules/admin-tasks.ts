import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { Cpu } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['admin']
const list = '/admin/tasks/list'

// 2.1.8 任务管理
export default {
  path: '/admin/tasks',
  name: 'AdminTasks',
  redirect: list,
  meta: { title: 'menu.tasks', icon: markRaw(Cpu), roles, rank: 80 },
  children: [
    {
      path: list,
      name: 'AdminTaskList',
      component: () => import('@/views/admin/tasks/list/index.vue'),
      meta: { title: 'menu.taskList', roles },
    },
  ],
} satisfies RouteRecordRaw
