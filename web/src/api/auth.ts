import { http } from './http'
import type {
  LoginInput,
  Me,
  PasswordResetConfirmInput,
  PasswordResetRequestResult,
  TokenResult,
} from './types'

/** 401/403/429/503 are shown on the login form itself, not as toasts. */
export const login = (input: LoginInput) =>
  http.post<TokenResult>('/api/auth/login', input, { skipAuth: true, silent: [401, 403, 429, 503] })

export const logout = (refreshToken: string) =>
  http.post<Record<string, never>>('/api/auth/logout', { refreshToken }, { skipAuth: true, silent: true })

export const getMe = () => http.get<Me>('/api/auth/me')

/** The same answer for every account; a 400 is shown at the field by the page. */
export const requestPasswordReset = (account: string) =>
  http.post<PasswordResetRequestResult>('/api/auth/password-reset/request', { account }, { skipAuth: true, silent: [400] })

/** 400 is shown at the form fields by the page. */
export const confirmPasswordReset = (input: PasswordResetConfirmInput) =>
  http.post<Record<string, never>>('/api/auth/password-reset/confirm', input, {
    skipAuth: true,
    silent: [400],
  })
