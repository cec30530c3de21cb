import type { RouteRecordRaw } from 'vue-router'
import './types'

// Route modules (one file per sidebar group) are collected and ordered by meta.rank.
const modules = import.meta.glob<{ default: RouteRecordRaw }>('./modules/*.ts', { eager: true })

export const moduleRoutes: RouteRecordRaw[] = Object.values(modules)
  .map((m) => m.default)
  .sort((a, b) => (a.meta?.rank ?? 0) - (b.meta?.rank ?? 0))

export const routes: RouteRecordRaw[] = [
  {
    path: '/login',
    name: 'Login',
    component: () => import('@/views/login/index.vue'),
    meta: { title: 'menu.login', public: true, hidden: true },
  },
  {
    path: '/forgot-password',
    name: 'ForgotPassword',
    component: () => import('@/views/forgot-password/index.vue'),
    meta: { title: 'menu.forgotPassword', public: true, hidden: true },
  },
  {
    // Every console page renders inside the layout; the guards send `/` to the user's home.
    path: '/',
    name: 'Root',
    component: () => import('@/layout/index.vue'),
    meta: { title: 'menu.home', hidden: true },
    children: [
      ...moduleRoutes,
      {
        path: '/403',
        name: 'Forbidden',
        component: () => import('@/views/error/403.vue'),
        meta: { title: 'menu.forbidden', hidden: true },
      },
    ],
  },
  {
    path: '/:pathMatch(.*)*',
    name: 'NotFound',
    component: () => import('@/views/error/404.vue'),
    meta: { title: 'menu.notFound', public: true, hidden: true },
  },
]
