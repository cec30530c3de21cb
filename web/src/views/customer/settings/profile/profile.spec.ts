import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/core'
import type { Me } from '@/api/types'
import { fieldError, flushPromises, mountPage, settleForm } from '@/test/mountPage'

vi.mock('@/api/profile', () => ({
  getProfile: vi.fn(),
  updateProfile: vi.fn(),
  changePassword: vi.fn(),
  uploadAvatar: vi.fn(),
  getAvatar: vi.fn(),
}))
const profileApi = await import('@/api/profile')
const { default: ProfilePage } = await import('./index.vue')

const me = (over: Partial<Me> = {}): Me => ({
  id: 'u1',
  username: 'acme-dev',
  name: 'Dev',
  email: 'dev@acme.test',
  phone: '',
  employeeId: '',
  role: 'member',
  authSource: 'local',
  hasAvatar: false,
  ...over,
})

afterEach(() => {
  vi.clearAllMocks()
  document.body.innerHTML = ''
})

const passwordField = () => document.querySelector('input[data-testid="profile-current-password"]')

describe('profile page', () => {
  it('saves the name without the password, and asks for it once the e-mail changes', async () => {
    vi.mocked(profileApi.getProfile).mockResolvedValue(me())
    vi.mocked(profileApi.updateProfile).mockImplementation(async (input) => me({ name: input.name, email: input.email }))
    const { wrapper } = await mountPage(ProfilePage, '/customer/settings/profile', { session: true })

    await wrapper.find('input[data-testid="profile-name"]').setValue('Dev Two')
    expect(passwordField()).toBeNull()
    await wrapper.find('[data-testid="profile-form"]').trigger('submit')
    await settleForm()
    expect(profileApi.updateProfile).toHaveBeenLastCalledWith({ name: 'Dev Two', email: 'dev@acme.test', phone: '' })

    await wrapper.find('input[data-testid="profile-email"]').setValue('new@acme.test')
    await flushPromises()
    expect(passwordField()).not.toBeNull()
    // required before the API is asked
    await wrapper.find('[data-testid="profile-form"]').trigger('submit')
    await settleForm()
    expect(profileApi.updateProfile).toHaveBeenCalledTimes(1)
    expect(fieldError('[data-testid="profile-current-password"]')).not.toBe('')

    await wrapper.find('input[data-testid="profile-current-password"]').setValue('Member@12345')
    await wrapper.find('[data-testid="profile-form"]').trigger('submit')
    await settleForm()
    expect(profileApi.updateProfile).toHaveBeenLastCalledWith({
      name: 'Dev Two',
      email: 'new@acme.test',
      phone: '',
      currentPassword: 'Member@12345',
    })
    // saved: the new address is the current one, the field goes away and holds nothing
    expect(passwordField()).toBeNull()
    wrapper.unmount()
  })

  it('shows a wrong current password at its field', async () => {
    vi.mocked(profileApi.getProfile).mockResolvedValue(me())
    vi.mocked(profileApi.updateProfile).mockRejectedValue(
      new ApiError({
        status: 400,
        message: 'the current password is wrong',
        data: {
          reason: 'accounts.wrongCurrentPassword',
          errors: [
            { location: 'body.currentPassword', message: 'the current password is wrong', reason: 'accounts.wrongCurrentPassword' },
          ],
        },
      }),
    )
    const { wrapper } = await mountPage(ProfilePage, '/customer/settings/profile', { session: true })
    await wrapper.find('input[data-testid="profile-email"]').setValue('new@acme.test')
    await flushPromises()
    await wrapper.find('input[data-testid="profile-current-password"]').setValue('wrong')
    await wrapper.find('[data-testid="profile-form"]').trigger('submit')
    await settleForm()
    expect(fieldError('[data-testid="profile-current-password"]')).toContain('当前密码错误')
    wrapper.unmount()
  })

  it('does not let a directory account edit its e-mail', async () => {
    vi.mocked(profileApi.getProfile).mockResolvedValue(me({ authSource: 'ldap' }))
    const { wrapper } = await mountPage(ProfilePage, '/customer/settings/profile', { session: true })
    expect(wrapper.find('input[data-testid="profile-email"]').attributes('disabled')).toBeDefined()
    expect(passwordField()).toBeNull()
    wrapper.unmount()
  })
})
