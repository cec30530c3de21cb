import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/core'
import { fieldError, flushPromises, mountPage, settleForm } from '@/test/mountPage'
import ForgotPasswordPage from './index.vue'

vi.mock('@/api/auth', () => ({
  requestPasswordReset: vi.fn(),
  confirmPasswordReset: vi.fn(),
  login: vi.fn(),
  logout: vi.fn(),
  getMe: vi.fn(),
}))
const authApi = await import('@/api/auth')

type Wrapper = Awaited<ReturnType<typeof mountPage>>['wrapper']

async function requestCode(wrapper: Wrapper, account = 'acme-owner') {
  await wrapper.find('input[data-testid="forgot-account"]').setValue(account)
  await wrapper.find('[data-testid="forgot-send"]').trigger('click')
  await flushPromises()
}

async function fillStep2(wrapper: Wrapper, password = 'Brand-New#2024') {
  await wrapper.find('input[data-testid="forgot-code"]').setValue('123456')
  await wrapper.find('input[data-testid="forgot-new-password"]').setValue(password)
  await wrapper.find('input[data-testid="forgot-confirm-password"]').setValue(password)
  await wrapper.find('form').trigger('submit')
  await settleForm()
}

afterEach(() => {
  vi.clearAllMocks()
  vi.useRealTimers()
  document.body.innerHTML = ''
})

describe('forgot password page', () => {
  it('sends the code, then counts down 60 s before it can be sent again', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    vi.mocked(authApi.requestPasswordReset).mockResolvedValue({ resendAfter: 60, expiresIn: 600 })
    const { wrapper } = await mountPage(ForgotPasswordPage, '/forgot-password')
    await requestCode(wrapper, ' acme-owner ')

    expect(authApi.requestPasswordReset).toHaveBeenCalledWith('acme-owner')
    const resend = wrapper.get('[data-testid="forgot-resend"]')
    expect(resend.text()).toContain('60')
    expect(resend.attributes('disabled')).toBeDefined()

    vi.advanceTimersByTime(59_000)
    await flushPromises()
    expect(wrapper.get('[data-testid="forgot-resend"]').text()).toContain('1')
    vi.advanceTimersByTime(1_000)
    await flushPromises()
    expect(wrapper.get('[data-testid="forgot-resend"]').attributes('disabled')).toBeUndefined()
  })

  it('shows the directory reset link next to the code when the platform has a directory', async () => {
    vi.mocked(authApi.requestPasswordReset).mockResolvedValue({
      resendAfter: 60,
      expiresIn: 600,
      directoryResetUrl: 'https://sso.example.com/reset',
    })
    const { wrapper } = await mountPage(ForgotPasswordPage, '/forgot-password')
    await requestCode(wrapper)
    expect(wrapper.get('[data-testid="ldap-reset-link"]').attributes('href')).toBe('https://sso.example.com/reset')
    expect(wrapper.find('input[data-testid="forgot-code"]').exists()).toBe(true)
  })

  it('shows no directory link without a directory', async () => {
    vi.mocked(authApi.requestPasswordReset).mockResolvedValue({ resendAfter: 60, expiresIn: 600 })
    const { wrapper } = await mountPage(ForgotPasswordPage, '/forgot-password')
    await requestCode(wrapper)
    expect(wrapper.find('[data-testid="ldap-reset"]').exists()).toBe(false)
  })

  it('checks the password rules before asking the API', async () => {
    vi.mocked(authApi.requestPasswordReset).mockResolvedValue({ resendAfter: 60, expiresIn: 600 })
    const { wrapper } = await mountPage(ForgotPasswordPage, '/forgot-password')
    await requestCode(wrapper)
    await fillStep2(wrapper, 'x-acme-owner-Z9') // contains the account
    expect(authApi.confirmPasswordReset).not.toHaveBeenCalled()
    expect(fieldError('[data-testid="forgot-new-password"]')).toBe('不能包含用户名')
  })

  it('shows a wrong code at the code field', async () => {
    vi.mocked(authApi.requestPasswordReset).mockResolvedValue({ resendAfter: 60, expiresIn: 600 })
    vi.mocked(authApi.confirmPasswordReset).mockRejectedValue(
      new ApiError({
        status: 400,
        message: 'wrong code, 4 tries left',
        data: { reason: 'accounts.wrongResetCode', params: { left: 4 } },
      }),
    )
    const { wrapper } = await mountPage(ForgotPasswordPage, '/forgot-password')
    await requestCode(wrapper)
    await fillStep2(wrapper)
    expect(fieldError('[data-testid="forgot-code"]')).toBe('验证码错误，还可尝试 4 次')
    expect(fieldError('[data-testid="forgot-new-password"]')).toBe('')
  })

  it('puts a field error of the API under its field', async () => {
    vi.mocked(authApi.requestPasswordReset).mockResolvedValue({ resendAfter: 60, expiresIn: 600 })
    vi.mocked(authApi.confirmPasswordReset).mockRejectedValue(
      new ApiError({
        status: 400,
        message: 'use at least three of upper case, lower case, digits and symbols',
        data: {
          reason: 'accounts.passwordTooSimple',
          errors: [
            {
              location: 'body.newPassword',
              message: 'use at least three of upper case, lower case, digits and symbols',
              reason: 'accounts.passwordTooSimple',
            },
          ],
        },
      }),
    )
    const { wrapper } = await mountPage(ForgotPasswordPage, '/forgot-password')
    await requestCode(wrapper)
    await fillStep2(wrapper)
    expect(fieldError('[data-testid="forgot-new-password"]')).toBe('需包含大写、小写、数字、符号中的至少三类')
    expect(fieldError('[data-testid="forgot-code"]')).toBe('')
  })

  it('sends the user to /login after a reset', async () => {
    vi.mocked(authApi.requestPasswordReset).mockResolvedValue({ resendAfter: 60, expiresIn: 600 })
    vi.mocked(authApi.confirmPasswordReset).mockResolvedValue({})
    const { wrapper, router } = await mountPage(ForgotPasswordPage, '/forgot-password')
    localStorage.setItem('remotegpu.accessToken', 'stale')
    await requestCode(wrapper)
    await fillStep2(wrapper)
    expect(authApi.confirmPasswordReset).toHaveBeenCalledWith({
      account: 'acme-owner',
      code: '123456',
      newPassword: 'Brand-New#2024',
    })
    expect(router.currentRoute.value.path).toBe('/login')
    expect(localStorage.getItem('remotegpu.accessToken')).toBeNull()
  })
})
