import { describe, expect, it } from 'vitest'
import { moduleRoutes } from '@/router/routes'
import { buildMenu, type MenuItem } from './menu'

const shape = (items: MenuItem[]) => items.map((g) => [g.title, g.children.map((c) => c.path)])

describe('sidebar', () => {
  it('shows admins the pages that exist in the order of 2.2, hidden pages left out', () => {
    expect(shape(buildMenu(moduleRoutes, 'admin'))).toEqual([
      ['menu.adminHome', ['/admin/dashboard', '/admin/dashboard/realtime', '/admin/dashboard/alerts']],
      [
        'menu.machines',
        ['/admin/machines/list', '/admin/machines/add', '/admin/machines/import', '/admin/machines/maintenance'],
      ],
      ['menu.customers', ['/admin/customers/list', '/admin/customers/add']],
      ['menu.allocations', ['/admin/allocations', '/admin/allocations/quick', '/admin/allocations/expiring']],
      ['menu.monitoring', ['/admin/monitoring/realtime', '/admin/monitoring/alerts']],
      ['menu.datasets', ['/admin/datasets/list', '/admin/datasets/upload', '/admin/storage/overview']],
      ['menu.tasks', ['/admin/tasks/list']],
      ['menu.system', ['/admin/system/audit-logs', '/admin/system/announcements']],
    ])
  })

  it.each(['owner', 'member'] as const)('shows a %s only the customer console', (role) => {
    expect(shape(buildMenu(moduleRoutes, role))).toEqual([
      ['menu.customerHome', ['/customer/dashboard']],
      ['menu.myMachines', ['/customer/machines/list', '/customer/machines/connect', '/customer/machines/history']],
      [
        'menu.tasks',
        ['/customer/tasks/list', '/customer/tasks/inference', '/customer/tasks/queue', '/customer/tasks/history', '/customer/tasks/create-training'],
      ],
      ['menu.datasets', ['/customer/datasets/list', '/customer/datasets/upload', '/customer/datasets/mounts']],
      ['menu.customerMonitoring', ['/customer/monitoring/realtime']],
      ['menu.settings', ['/customer/settings/profile', '/customer/settings/ssh-keys', '/customer/settings/notifications']],
    ])
  })

  it('shows nothing without a role', () => {
    expect(buildMenu(moduleRoutes, null)).toEqual([])
  })
})
