import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { DataLine } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['owner', 'member']

// 3.1.7 监控与分析 (使用统计 comes with the statistics)
export default {
  path: '/customer/monitoring',
  name: 'CustomerMonitoring',
  redirect: '/customer/monitoring/realtime',
  meta: { title: 'menu.customerMonitoring', icon: markRaw(DataLine), roles, rank: 70 },
  children: [
    {
      path: '/customer/monitoring/realtime',
      name: 'CustomerMonitoringRealtime',
      component: () => import('@/views/customer/monitoring/realtime/index.vue'),
      meta: { title: 'menu.realtime', roles },
    },
  ],
} satisfies RouteRecordRaw
