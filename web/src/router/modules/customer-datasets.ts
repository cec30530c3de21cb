import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { Files } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['owner', 'member']
const list = '/customer/datasets/list'

// 3.1.5 数据集管理: 数据集列表, 上传数据集, 挂载管理 (3.2); the detail hangs under the list
export default {
  path: '/customer/datasets',
  name: 'CustomerDatasets',
  redirect: list,
  meta: { title: 'menu.datasets', icon: markRaw(Files), roles, rank: 40 },
  children: [
    {
      path: list,
      name: 'CustomerDatasetList',
      component: () => import('@/views/customer/datasets/list/index.vue'),
      meta: { title: 'menu.datasetList', roles },
    },
    {
      path: '/customer/datasets/upload',
      name: 'CustomerDatasetUpload',
      component: () => import('@/views/customer/datasets/upload/index.vue'),
      meta: { title: 'menu.datasetUpload', roles },
    },
    {
      path: '/customer/datasets/mounts',
      name: 'CustomerDatasetMounts',
      component: () => import('@/views/customer/datasets/mounts/index.vue'),
      meta: { title: 'menu.datasetMounts', roles },
    },
    {
      path: '/customer/datasets/:id',
      name: 'CustomerDatasetDetail',
      component: () => import('@/views/customer/datasets/detail/index.vue'),
      meta: { title: 'menu.datasetDetail', roles, hidden: true, activeMenu: list },
    },
  ],
} satisfies RouteRecordRaw
