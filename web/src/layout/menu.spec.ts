import { describe, expect, it } from 'vitest'
import { moduleRoutes } from '@/router/routes'
import { buildMenu, type MenuItem } from './menu'

const shape = (items: MenuItem[]) => items.map((g) => [g.title, g.children.map((c) => c.path)])

describe('sidebar', () => {
  it('shows admins the customer and system pages that exist, hidden pages left out', () => {
    expect(shape(buildMenu(moduleRoutes, 'admin'))).toEqual([
      ['menu.customers', ['/admin/customers/list', '/admin/customers/add']],
      ['menu.system', ['/admin/system/audit-logs', '/admin/system/announcements']],
    ])
  })

  it.each(['owner', 'member'] as const)('shows a %s only the customer settings', (role) => {
    expect(shape(buildMenu(moduleRoutes, role))).toEqual([
      ['menu.settings', ['/customer/settings/profile', '/customer/settings/ssh-keys', '/customer/settings/notifications']],
    ])
  })

  it('shows nothing without a role', () => {
    expect(buildMenu(moduleRoutes, null)).toEqual([])
  })
})
