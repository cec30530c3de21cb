// Navigation guards, split as in vben/pure-admin: the login guard decides
// whether a session is needed and present; the access guard checks roles.
// Both take their dependencies so that tests can drive them without a server.
import type { NavigationGuardWithThis, RouteLocationNormalized, Router } from 'vue-router'
import type { Role } from '@/api/types'
import { homePathFor } from './home'

export interface GuardContext {
  /** tokens are stored (the user may not be loaded yet) */
  hasSession(): boolean
  /** role of the loaded user, null when not loaded */
  role(): Role | null
  /** load the user from the API; null when the session is not valid */
  loadUser(): Promise<Role | null>
}

export const LOGIN_PATH = '/login'
export const FORBIDDEN_PATH = '/403'

/** Every matched record that names roles must allow this one. */
export function canAccess(route: Pick<RouteLocationNormalized, 'matched'>, role: Role | null): boolean {
  return route.matched.every((r) => !r.meta.roles || (role !== null && r.meta.roles.includes(role)))
}

/** A `redirect` query value the user may follow after login, or null. */
export function safeRedirect(router: Router, redirect: unknown, role: Role): string | null {
  if (typeof redirect !== 'string' || !redirect.startsWith('/') || redirect.startsWith('//')) return null
  const target = router.resolve(redirect)
  if (!target.matched.length || target.meta.public || target.name === 'NotFound') return null
  return canAccess(target, role) ? target.fullPath : null
}

export function createLoginGuard(ctx: GuardContext): NavigationGuardWithThis<undefined> {
  return async (to) => {
    if (to.meta.public) {
      // A logged-in user opening /login goes straight on.
      if (to.path === LOGIN_PATH && ctx.hasSession()) {
        const role = ctx.role() ?? (await ctx.loadUser())
        if (role) return homePathFor(role)
      }
      return true
    }
    if (!ctx.hasSession()) return { path: LOGIN_PATH, query: { redirect: to.fullPath } }
    if (!ctx.role() && !(await ctx.loadUser())) return { path: LOGIN_PATH, query: { redirect: to.fullPath } }
    return true
  }
}

export function createAccessGuard(ctx: GuardContext): NavigationGuardWithThis<undefined> {
  return (to) => {
    if (to.meta.public) return true
    const role = ctx.role()
    if (to.path === '/') return homePathFor(role)
    if (!canAccess(to, role)) return { path: FORBIDDEN_PATH, query: { from: to.fullPath } }
    return true
  }
}
