import type { Component } from 'vue'
import type { RouteRecordRaw } from 'vue-router'
import type { Role } from '@/api/types'

export interface MenuItem {
  path: string
  title: string
  icon?: Component
  children: MenuItem[]
}

function allowed(route: RouteRecordRaw, role: Role | null): boolean {
  const roles = route.meta?.roles
  return !roles || (role !== null && roles.includes(role))
}

/** The sidebar for a role: visible route modules and their visible pages. */
export function buildMenu(routes: RouteRecordRaw[], role: Role | null): MenuItem[] {
  const walk = (list: RouteRecordRaw[]): MenuItem[] =>
    list.flatMap((r) => {
      if (!r.meta || r.meta.hidden || !allowed(r, role)) return []
      const children = walk(r.children ?? [])
      // a group whose pages are all hidden or forbidden disappears
      if (r.children?.length && !children.length) return []
      return [{ path: r.path, title: r.meta.title, icon: r.meta.icon, children }]
    })
  return walk(routes)
}
