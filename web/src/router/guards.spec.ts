import { describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import type { Role } from '@/api/types'
import { stubRoutes } from '@/test/stubRoutes'
import { createAccessGuard, createLoginGuard, safeRedirect, type GuardContext } from './guards'
import { ADMIN_HOME, CUSTOMER_HOME } from './home'

interface Session {
  /** tokens stored */
  tokens: boolean
  /** the role the API would return for /api/auth/me (null: the session is not valid) */
  apiRole: Role | null
  /** already loaded */
  loaded?: boolean
}

function setup(session: Session): { router: Router; loadUser: ReturnType<typeof vi.fn> } {
  let role: Role | null = session.loaded ? session.apiRole : null
  const loadUser = vi.fn(async () => {
    role = session.apiRole
    return role
  })
  const ctx: GuardContext = { hasSession: () => session.tokens, role: () => role, loadUser }
  const router = createRouter({ history: createMemoryHistory(), routes: stubRoutes() })
  router.beforeEach(createLoginGuard(ctx))
  router.beforeEach(createAccessGuard(ctx))
  return { router, loadUser }
}

async function go(router: Router, path: string) {
  await router.push(path)
  return router.currentRoute.value
}

describe('login guard', () => {
  it('sends a visitor without a session to /login with the way back', async () => {
    const { router, loadUser } = setup({ tokens: false, apiRole: null })
    const to = await go(router, '/admin/customers/list?status=active')
    expect(to.path).toBe('/login')
    expect(to.query.redirect).toBe('/admin/customers/list?status=active')
    expect(loadUser).not.toHaveBeenCalled()
  })

  it.each(['/login', '/forgot-password'])('lets a visitor open %s', async (path) => {
    const { router } = setup({ tokens: false, apiRole: null })
    expect((await go(router, path)).path).toBe(path)
  })

  it('shows the 404 page for an unknown path, logged in or not', async () => {
    const { router } = setup({ tokens: false, apiRole: null })
    expect((await go(router, '/no/such/page')).name).toBe('NotFound')
  })

  it('loads the user once after a reload, then lets them in', async () => {
    const { router, loadUser } = setup({ tokens: true, apiRole: 'admin' })
    expect((await go(router, '/admin/system/audit-logs')).path).toBe('/admin/system/audit-logs')
    await go(router, '/admin/customers/list')
    expect(loadUser).toHaveBeenCalledTimes(1)
  })

  it('sends a stale session (the user cannot be loaded) to /login', async () => {
    const { router } = setup({ tokens: true, apiRole: null })
    const to = await go(router, '/customer/settings/profile')
    expect(to.path).toBe('/login')
    expect(to.query.redirect).toBe('/customer/settings/profile')
  })

  it('sends a logged-in user who opens /login to their home', async () => {
    expect((await go(setup({ tokens: true, apiRole: 'member' }).router, '/login')).path).toBe(CUSTOMER_HOME)
    expect((await go(setup({ tokens: true, apiRole: 'admin' }).router, '/login')).path).toBe(ADMIN_HOME)
  })
})

describe('access guard', () => {
  it.each([
    ['admin', ADMIN_HOME],
    ['owner', CUSTOMER_HOME],
    ['member', CUSTOMER_HOME],
  ] as const)('sends %s from / to %s', async (role, home) => {
    const { router } = setup({ tokens: true, apiRole: role, loaded: true })
    expect((await go(router, '/')).path).toBe(home)
  })

  it.each([
    '/admin/customers/list',
    '/admin/customers/add',
    '/admin/customers/3f0c2a52-0d47-4f0e-9a3a-1f0b2c3d4e5f',
    '/admin/customers/3f0c2a52-0d47-4f0e-9a3a-1f0b2c3d4e5f/edit',
    '/admin/system/audit-logs',
    '/admin/system/announcements',
    '/admin/dashboard',
    '/admin/machines/list',
    '/admin/machines/import',
    '/admin/allocations',
    '/admin/allocations/expiring',
    '/admin/allocations/quick?tenantId=x',
    '/admin/monitoring/realtime',
    '/admin/monitoring/alerts?status=open',
  ])('shows the 403 page to a member who opens %s', async (path) => {
    const { router } = setup({ tokens: true, apiRole: 'member' })
    const to = await go(router, path)
    expect(to.path).toBe('/403')
    expect(to.name).toBe('Forbidden')
    expect(to.query.from).toBe(path)
  })

  it('keeps admins out of the customer console', async () => {
    const { router } = setup({ tokens: true, apiRole: 'admin', loaded: true })
    expect((await go(router, '/customer/settings/ssh-keys')).path).toBe('/403')
  })

  it.each([
    '/customer/settings/profile',
    '/customer/settings/ssh-keys',
    '/customer/settings/notifications',
    '/customer/dashboard',
    '/customer/machines/list',
    '/customer/machines/connect',
    '/customer/machines/history',
    '/customer/machines/3f0c2a52-0d47-4f0e-9a3a-1f0b2c3d4e5f',
    '/customer/monitoring/realtime',
  ])(
    'lets owners and members open %s',
    async (path) => {
      for (const role of ['owner', 'member'] as const) {
        const { router } = setup({ tokens: true, apiRole: role, loaded: true })
        expect((await go(router, path)).path).toBe(path)
      }
    },
  )

  it('resolves detail routes to the detail page, not to list/add', async () => {
    const { router } = setup({ tokens: true, apiRole: 'admin', loaded: true })
    expect((await go(router, '/admin/customers/add')).name).toBe('AdminCustomerAdd')
    expect((await go(router, '/admin/customers/abc')).name).toBe('AdminCustomerDetail')
    expect((await go(router, '/admin/customers/abc/edit')).name).toBe('AdminCustomerEdit')
    expect((await go(router, '/admin/machines/add')).name).toBe('AdminMachineAdd')
    expect((await go(router, '/admin/machines/import')).name).toBe('AdminMachineImport')
    expect((await go(router, '/admin/machines/maintenance')).name).toBe('AdminMaintenance')
    expect((await go(router, '/admin/machines/abc')).name).toBe('AdminMachineDetail')
    expect((await go(router, '/admin/machines/abc/edit')).name).toBe('AdminMachineEdit')
  })

  it('opens the allocation records at /admin/allocations (the group has no page of its own)', async () => {
    const { router } = setup({ tokens: true, apiRole: 'admin', loaded: true })
    expect((await go(router, '/admin/allocations')).name).toBe('AdminAllocationList')
    expect((await go(router, '/admin/allocations?tab=history')).name).toBe('AdminAllocationList')
    expect((await go(router, '/admin/allocations/expiring')).name).toBe('AdminAllocationsExpiring')
    expect((await go(router, '/admin/allocations/quick')).name).toBe('AdminQuickAllocation')
  })

  it('leads the home group\'s 实时监控 and 告警中心 entries to the pages of 监控中心', async () => {
    const { router } = setup({ tokens: true, apiRole: 'admin', loaded: true })
    expect((await go(router, '/admin/dashboard/realtime')).name).toBe('AdminMonitoringRealtime')
    const alerts = await go(router, '/admin/dashboard/alerts')
    expect(alerts.name).toBe('AdminAlerts')
    expect(alerts.query.status).toBe('open')
    expect((await go(router, '/admin/monitoring')).path).toBe('/admin/monitoring/realtime')
    expect((await go(setup({ tokens: true, apiRole: 'member', loaded: true }).router, '/customer/monitoring')).path).toBe(
      '/customer/monitoring/realtime',
    )
  })

  it('sends /admin and /customer to the homes of the consoles', async () => {
    expect((await go(setup({ tokens: true, apiRole: 'admin', loaded: true }).router, '/admin')).path).toBe(ADMIN_HOME)
    expect((await go(setup({ tokens: true, apiRole: 'owner', loaded: true }).router, '/customer')).path).toBe(CUSTOMER_HOME)
  })
})

describe('safeRedirect', () => {
  const { router } = setup({ tokens: true, apiRole: 'admin', loaded: true })

  it('follows an allowed in-app path', () => {
    expect(safeRedirect(router, '/admin/system/audit-logs?page=2', 'admin')).toBe('/admin/system/audit-logs?page=2')
  })

  it.each([
    ['another origin', '//evil.example.com/x'],
    ['an absolute URL', 'https://evil.example.com'],
    ['a page of another role', '/customer/settings/profile'],
    ['an unknown page', '/nope'],
    ['the login page', '/login'],
    ['nothing', undefined],
  ])('ignores %s', (_what, redirect) => {
    expect(safeRedirect(router, redirect, 'admin')).toBeNull()
  })
})
