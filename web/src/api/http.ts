// The application's HTTP instance: the core plus the UI (ElMessage), the
// token storage and the way out to the login page.
import { ElMessage } from 'element-plus'
import { createHttp, type ApiError } from './core'
import { tokenStorage } from '@/utils/auth'
import { codeText, i18n } from '@/locales'
import type { FieldError } from './types'

export { ApiError, isApiError, cleanParams } from './core'

type AuthFailureHandler = () => void
let authFailureHandler: AuthFailureHandler = () => {
  window.location.assign(`/login?redirect=${encodeURIComponent(window.location.pathname + window.location.search)}`)
}

/** main.ts installs the router-aware handler (logout → /login?redirect=…). */
export function setAuthFailureHandler(handler: AuthFailureHandler) {
  authFailureHandler = handler
}

/**
 * The session ended outside an HTTP call (a WebSocket closed with 4401):
 * forget the tokens and leave for the login page, as a refused refresh does.
 */
export function sessionEnded() {
  tokenStorage.clear()
  authFailureHandler()
}

/** A field's problem in the console's language. */
export function fieldText(f: FieldError): string {
  return codeText(f.reason, f.params, f.message)
}

/**
 * The text shown for an API error: its code translated (else the API's
 * English message), the field errors, the trace ID for server errors.
 */
export function describeError(err: ApiError): string {
  const t = i18n.global.t
  if (err.status === 0) return t('http.network')
  let text = codeText(err.reason, err.params, err.message || t('http.unknown', { status: err.status }))
  const fields = err.fieldErrors.map(fieldText).filter((m) => m && m !== text)
  if (fields.length) text += `: ${fields.join('; ')}`
  if (err.status >= 500 && err.traceId) text += ` (${t('http.traceId')}: ${err.traceId})`
  return text
}

export const http = createHttp({
  tokens: tokenStorage,
  notify(err) {
    // grouping: several requests failing the same way at once give one toast.
    ElMessage({ type: 'error', message: describeError(err), grouping: true, duration: err.status >= 500 ? 6000 : 3500 })
  },
  onAuthFailure: () => authFailureHandler(),
})
