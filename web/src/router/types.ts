import type { Component } from 'vue'
import type { Role } from '@/api/types'

declare module 'vue-router' {
  interface RouteMeta {
    /** i18n key of the page (menu entry, breadcrumb, document title) */
    title: string
    /** who may open it; inherited: every matched record must allow the role */
    roles?: Role[]
    icon?: Component
    /** not in the sidebar */
    hidden?: boolean
    /** reachable without logging in */
    public?: boolean
    /** sidebar entry to highlight for hidden pages (a detail page → its list) */
    activeMenu?: string
    /** sidebar order of a route module */
    rank?: number
  }
}

export {}
