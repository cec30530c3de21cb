// The HTTP core: one Axios instance that unwraps the {code, message, data, traceId}
// envelope, reports errors in one place and refreshes the access token exactly
// once for any number of concurrent 401s. It has no knowledge of the router,
// the stores or the UI; http.ts wires those in, tests pass fakes.
import axios, {
  AxiosError,
  AxiosHeaders,
  type AxiosInstance,
  type AxiosRequestConfig,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios'
import type { Envelope, FieldError, TokenResult } from './types'

declare module 'axios' {
  interface AxiosRequestConfig {
    /** `true`: never toast this request's errors; a list: no toast for these HTTP statuses. */
    silent?: boolean | number[]
    /** Send no access token and never refresh on 401 (login, refresh, public endpoints). */
    skipAuth?: boolean
    /** Internal: already retried once after a token refresh. */
    _retried?: boolean
  }
}

export const REFRESH_URL = '/api/auth/refresh'

/** An error answer of the API (or a network failure, status 0). */
export class ApiError extends Error {
  readonly status: number
  readonly code: number
  readonly traceId: string
  readonly data: unknown
  /** Set when the error was already reported to the user. */
  notified = false

  constructor(init: { status: number; code?: number; message: string; traceId?: string; data?: unknown }) {
    super(init.message)
    this.name = 'ApiError'
    this.status = init.status
    this.code = init.code ?? init.status
    this.traceId = init.traceId ?? ''
    this.data = init.data ?? null
  }

  /** `data.errors` of a bad input (400). */
  get fieldErrors(): FieldError[] {
    const errors = (this.data as { errors?: unknown } | null)?.errors
    return Array.isArray(errors) ? (errors as FieldError[]) : []
  }

  /** `data.reason`: the stable code of the message, which the console translates. */
  get reason(): string {
    const r = (this.data as { reason?: unknown } | null)?.reason
    return typeof r === 'string' ? r : ''
  }

  /** `data.params`: the figures the message names, and extra detail (retryAfter …). */
  get params(): Record<string, unknown> {
    const p = (this.data as { params?: unknown } | null)?.params
    return typeof p === 'object' && p !== null ? (p as Record<string, unknown>) : {}
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError
}

export interface TokenStore {
  getAccess(): string | null
  getRefresh(): string | null
  set(tokens: TokenResult): void
  clear(): void
}

export interface HttpDeps {
  tokens: TokenStore
  /** Show an error to the user (a toast in the app). */
  notify(error: ApiError): void
  /** The session is over (refresh failed): log out and go to the login page. Called once per failed refresh. */
  onAuthFailure(): void
  /** Test hook: replaces the network. */
  adapter?: AxiosRequestConfig['adapter']
  timeout?: number
}

export interface Http {
  readonly instance: AxiosInstance
  get<T>(url: string, config?: AxiosRequestConfig): Promise<T>
  post<T>(url: string, body?: unknown, config?: AxiosRequestConfig): Promise<T>
  put<T>(url: string, body?: unknown, config?: AxiosRequestConfig): Promise<T>
  delete<T>(url: string, config?: AxiosRequestConfig): Promise<T>
  /** Raw bytes of a binary endpoint (an image), fetched with the token. */
  blob(url: string, config?: AxiosRequestConfig): Promise<Blob>
}

function isEnvelope(body: unknown): body is Envelope {
  return typeof body === 'object' && body !== null && typeof (body as Envelope).code === 'number' && 'data' in body
}

function headerTraceId(headers: unknown): string {
  const h = headers as Record<string, unknown> | AxiosHeaders | undefined
  if (!h) return ''
  const v = h instanceof AxiosHeaders ? h.get('x-trace-id') : h['x-trace-id']
  return typeof v === 'string' ? v : ''
}

/** Binary requests get error bodies as Blob/ArrayBuffer; turn them back into JSON. */
async function readBody(body: unknown): Promise<unknown> {
  try {
    if (typeof Blob !== 'undefined' && body instanceof Blob) return JSON.parse(await body.text())
    if (body instanceof ArrayBuffer) return JSON.parse(new TextDecoder().decode(body))
  } catch {
    return null
  }
  return body
}

/** An error body: the envelope (its data is {reason, params, errors}). */
function isErrorBody(body: unknown): body is Omit<Envelope, 'data'> & { data?: unknown } {
  return typeof body === 'object' && body !== null && typeof (body as Envelope).code === 'number' && 'message' in body
}

function envelopeError(status: number, body: unknown, headers: unknown): ApiError {
  if (isErrorBody(body)) {
    return new ApiError({
      status,
      code: body.code,
      message: body.message || `HTTP ${status}`,
      traceId: body.traceId || headerTraceId(headers),
      data: body.data ?? null,
    })
  }
  return new ApiError({ status, message: `HTTP ${status}`, traceId: headerTraceId(headers) })
}

function bearer(config: AxiosRequestConfig): string | null {
  const raw = AxiosHeaders.from(config.headers as AxiosHeaders).get('Authorization')
  return typeof raw === 'string' && raw.startsWith('Bearer ') ? raw.slice(7) : null
}

/** The API said no to the refresh token (as opposed to not answering). */
function refused(e: unknown): boolean {
  return isApiError(e) && e.status >= 400 && e.status < 500
}

function shouldNotify(err: ApiError, config: AxiosRequestConfig | undefined): boolean {
  const silent = config?.silent
  if (silent === true) return false
  if (Array.isArray(silent) && silent.includes(err.status)) return false
  return true
}

export function createHttp(deps: HttpDeps): Http {
  const instance = axios.create({ baseURL: '', timeout: deps.timeout ?? 30_000, adapter: deps.adapter })
  let refreshing: Promise<string> | null = null

  instance.interceptors.request.use((config: InternalAxiosRequestConfig) => {
    if (!config.skipAuth) {
      const token = deps.tokens.getAccess()
      if (token) config.headers.set('Authorization', `Bearer ${token}`)
    }
    return config
  })

  instance.interceptors.response.use(
    (response: AxiosResponse) => {
      const { config } = response
      if (config.responseType === 'blob' || config.responseType === 'arraybuffer') return response.data
      const body: unknown = response.data
      if (!isEnvelope(body)) return body === '' ? undefined : body
      if (body.code === 0) return body.data
      // A non-zero code in a 2xx answer is still an error.
      return fail(envelopeError(response.status, body, response.headers), config)
    },
    async (error: AxiosError) => {
      if (axios.isCancel(error)) throw error
      const config = error.config
      const response = error.response
      if (!response) {
        return fail(new ApiError({ status: 0, message: error.message || 'Network Error' }), config)
      }
      if (response.status === 401 && config && !config.skipAuth) {
        return retryAfterRefresh(config, response)
      }
      const body = await readBody(response.data)
      return fail(envelopeError(response.status, body, response.headers), config)
    },
  )

  function fail(err: ApiError, config: AxiosRequestConfig | undefined): Promise<never> {
    if (shouldNotify(err, config)) {
      err.notified = true
      deps.notify(err)
    }
    return Promise.reject(err)
  }

  function endSession() {
    deps.tokens.clear()
    deps.onAuthFailure()
  }

  async function retryAfterRefresh(config: InternalAxiosRequestConfig, response: AxiosResponse): Promise<unknown> {
    const body = await readBody(response.data)
    const unauthorized = envelopeError(401, body, response.headers)
    unauthorized.notified = true // the user is sent to the login page instead
    if (config._retried) {
      // The fresh token was refused too: the session is gone.
      endSession()
      throw unauthorized
    }
    const sent = bearer(config)
    const current = deps.tokens.getAccess()
    let token: string
    if (current && sent !== current) {
      // Another request refreshed while this one was in flight.
      token = current
    } else {
      try {
        token = await refresh()
      } catch (e) {
        // Refused: the session is over (refresh() has ended it). Anything else
        // (network, 5xx) leaves the session as it is and is reported as such.
        if (refused(e)) throw unauthorized
        return fail(isApiError(e) ? e : new ApiError({ status: 0, message: String(e) }), config)
      }
    }
    config._retried = true
    config.headers.set('Authorization', `Bearer ${token}`)
    return instance.request(config)
  }

  /** Exchange the refresh token for new tokens; concurrent callers share one request. */
  function refresh(): Promise<string> {
    if (!refreshing) {
      refreshing = (async () => {
        const refreshToken = deps.tokens.getRefresh()
        if (!refreshToken) throw new ApiError({ status: 401, message: 'no refresh token' })
        const result = (await instance.post(
          REFRESH_URL,
          { refreshToken },
          { skipAuth: true, silent: true },
        )) as TokenResult
        deps.tokens.set(result)
        return result.accessToken
      })()
        .catch((e: unknown) => {
          if (refused(e)) endSession()
          throw e
        })
        .finally(() => {
          refreshing = null
        })
    }
    return refreshing
  }

  // The response interceptor has already unwrapped the envelope, so a call resolves to `data`.
  const call = <T>(config: AxiosRequestConfig) => instance.request(config) as Promise<T>

  return {
    instance,
    get: <T>(url: string, config?: AxiosRequestConfig) => call<T>({ ...config, method: 'get', url }),
    post: <T>(url: string, body?: unknown, config?: AxiosRequestConfig) =>
      call<T>({ ...config, method: 'post', url, data: body }),
    put: <T>(url: string, body?: unknown, config?: AxiosRequestConfig) =>
      call<T>({ ...config, method: 'put', url, data: body }),
    delete: <T>(url: string, config?: AxiosRequestConfig) => call<T>({ ...config, method: 'delete', url }),
    blob: (url: string, config?: AxiosRequestConfig) =>
      call<Blob>({ ...config, method: 'get', url, responseType: 'blob' }),
  }
}

/** Drop empty values so they are not sent as `?status=`. */
export function cleanParams<T extends object>(params: T): Partial<T> {
  const out: Partial<T> = {}
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue
    ;(out as Record<string, unknown>)[k] = v
  }
  return out
}
