import { markRaw } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import { Files } from '@element-plus/icons-vue'
import type { Role } from '@/api/types'

const roles: Role[] = ['admin']

// 2.1.7 数据集管理: 数据集库, 上传数据集, 存储管理
export default {
  path: '/admin/datasets',
  name: 'AdminDatasets',
  redirect: '/admin/datasets/list',
  meta: { title: 'menu.datasets', icon: markRaw(Files), roles, rank: 60 },
  children: [
    {
      path: '/admin/datasets/list',
      name: 'AdminDatasetList',
      component: () => import('@/views/admin/datasets/list/index.vue'),
      meta: { title: 'menu.datasetLibrary', roles },
    },
    {
      path: '/admin/datasets/upload',
      name: 'AdminDatasetUpload',
      component: () => import('@/views/admin/datasets/upload/index.vue'),
      meta: { title: 'menu.datasetUpload', roles },
    },
    {
      path: '/admin/storage/overview',
      name: 'AdminStorageOverview',
      component: () => import('@/views/admin/storage/overview/index.vue'),
      meta: { title: 'menu.storageManagement', roles },
    },
  ],
} satisfies RouteRecordRaw
