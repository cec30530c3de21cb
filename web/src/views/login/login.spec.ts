import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/core'
import type { Announcement, PublicStatus, TokenResult } from '@/api/types'
import { CUSTOMER_HOME } from '@/router/home'
import { i18n } from '@/locales'
import { flushPromises, mountPage } from '@/test/mountPage'
import LoginPage from './index.vue'

vi.mock('@/api/public', () => ({ getPublicStatus: vi.fn(), listPublicAnnouncements: vi.fn() }))
vi.mock('@/api/auth', () => ({ login: vi.fn(), logout: vi.fn(), getMe: vi.fn() }))
const publicApi = await import('@/api/public')
const authApi = await import('@/api/auth')

const healthy: PublicStatus = { ldap: { enabled: true, available: true }, maintenance: false, message: '' }
const announcement: Announcement = {
  id: 'a1',
  title: '目录服务升级',
  content: '今晚 22:00 起暂停登录',
  level: 'warning',
  published: true,
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
}
const tokens = (role: 'admin' | 'member'): TokenResult => ({
  accessToken: 'a',
  refreshToken: 'r',
  expiresIn: 900,
  user: {
    id: 'u',
    username: role,
    name: role,
    email: '',
    phone: '',
    employeeId: '',
    role,
    authSource: 'local',
    hasAvatar: false,
  },
})

async function submit(wrapper: Awaited<ReturnType<typeof mountPage>>['wrapper'], username = 'acme-owner') {
  await wrapper.find('input[data-testid="login-username"]').setValue(username)
  await wrapper.find('input[data-testid="login-password"]').setValue('secret')
  await wrapper.find('form').trigger('submit')
  await flushPromises()
}

beforeEach(() => {
  vi.mocked(publicApi.getPublicStatus).mockResolvedValue(healthy)
  vi.mocked(publicApi.listPublicAnnouncements).mockResolvedValue({ list: [announcement], total: 1, page: 1, pageSize: 5 })
})
afterEach(() => {
  vi.clearAllMocks()
  document.body.innerHTML = ''
})

describe('login page', () => {
  it('shows no notice while the directory is up', async () => {
    const { wrapper } = await mountPage(LoginPage, '/login')
    expect(wrapper.find('[data-testid="maintenance-notice"]').exists()).toBe(false)
    expect(publicApi.listPublicAnnouncements).not.toHaveBeenCalled()
  })

  it('shows the maintenance notice and the public announcements when LDAP is unavailable', async () => {
    vi.mocked(publicApi.getPublicStatus).mockResolvedValue({
      ldap: { enabled: true, available: false },
      maintenance: true,
      message: 'The directory service is unavailable; login is under maintenance. Try again later or contact your administrator.',
    })
    const { wrapper } = await mountPage(LoginPage, '/login')
    expect(wrapper.get('[data-testid="maintenance-notice"]').text()).toContain('统一认证服务（LDAP/AD）暂不可用，系统维护中')
    expect(wrapper.get('[data-testid="announcements"]').text()).toContain('目录服务升级')
    i18n.global.locale.value = 'en'
    await flushPromises()
    expect(wrapper.get('[data-testid="maintenance-notice"]').text()).toContain('The directory service is unavailable; login is under maintenance.')
  })

  it('translates the code of a 503 from login', async () => {
    vi.mocked(authApi.login).mockRejectedValue(
      new ApiError({
        status: 503,
        message: 'The directory service is unavailable',
        data: { reason: 'accounts.directoryUnavailable', params: { maintenance: true } },
      }),
    )
    const { wrapper } = await mountPage(LoginPage, '/login')
    await submit(wrapper)
    expect(wrapper.get('[data-testid="maintenance-notice"]').text()).toContain('统一认证服务（LDAP/AD）暂不可用')
  })

  it('turns a 503 from login into the maintenance notice', async () => {
    vi.mocked(authApi.login).mockRejectedValue(new ApiError({ status: 503, message: 'LDAP 不可用，请稍后再试' }))
    const { wrapper } = await mountPage(LoginPage, '/login')
    await submit(wrapper)
    expect(wrapper.get('[data-testid="maintenance-notice"]').text()).toContain('LDAP 不可用，请稍后再试')
    expect(wrapper.get('[data-testid="announcements"]').text()).toContain('目录服务升级')
    expect(wrapper.find('[data-testid="login-error"]').exists()).toBe(false)
  })

  it.each([
    [401, 'accounts.badCredentials', {}, '用户名或密码错误', 'wrong username or password'],
    [403, 'accounts.accountDisabled', {}, '账号已禁用，请联系管理员', 'account disabled; contact your administrator'],
    [429, 'accounts.tooManyFailedLogins', { minutes: 5, retryAfter: 300 }, '登录失败次数过多，请 5 分钟后再试', 'too many failed logins; try again in 5 min'],
  ])('shows the answer to a %i on the form, in either language (%s)', async (status, reason, params, zh, en) => {
    vi.mocked(authApi.login).mockRejectedValue(new ApiError({ status, message: en, data: { reason, params } }))
    const { wrapper, router } = await mountPage(LoginPage, '/login')
    await submit(wrapper)
    expect(wrapper.get('[data-testid="login-error"]').text()).toContain(zh)
    i18n.global.locale.value = 'en'
    await flushPromises()
    expect(wrapper.get('[data-testid="login-error"]').text()).toContain(en)
    expect(router.currentRoute.value.path).toBe('/login')
  })

  it('goes back to the redirect after login, when the role may open it', async () => {
    vi.mocked(authApi.login).mockResolvedValue(tokens('admin'))
    const { wrapper, router } = await mountPage(LoginPage, '/login?redirect=/admin/system/audit-logs')
    await submit(wrapper, 'admin')
    expect(router.currentRoute.value.fullPath).toBe('/admin/system/audit-logs')
    expect(localStorage.getItem('remotegpu.accessToken')).toBe('a')
  })

  it('ignores a redirect the role may not open and goes home', async () => {
    vi.mocked(authApi.login).mockResolvedValue(tokens('member'))
    const { wrapper, router } = await mountPage(LoginPage, '/login?redirect=/admin/system/audit-logs')
    await submit(wrapper, 'member')
    expect(router.currentRoute.value.path).toBe(CUSTOMER_HOME)
  })
})
