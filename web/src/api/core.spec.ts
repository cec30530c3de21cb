import { describe, expect, it, vi } from 'vitest'
import { AxiosError, AxiosHeaders, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios'
import { ApiError, cleanParams, createHttp, REFRESH_URL, type TokenStore } from './core'
import type { TokenResult } from './types'

type Handler = (config: InternalAxiosRequestConfig) => { status: number; body: unknown; delay?: number; headers?: Record<string, string> }

function respond(config: InternalAxiosRequestConfig, status: number, body: unknown, headers: Record<string, string> = {}) {
  const response: AxiosResponse = {
    data: body,
    status,
    statusText: String(status),
    headers: new AxiosHeaders(headers),
    config,
    request: {},
  }
  if (status >= 200 && status < 300) return Promise.resolve(response)
  return Promise.reject(
    new AxiosError(`Request failed with status code ${status}`, 'ERR_BAD_REQUEST', config, {}, response),
  )
}

const ok = (data: unknown) => ({ code: 0, message: 'ok', data, traceId: 't-ok' })
const fail = (code: number, message: string, data: unknown = null, traceId = 't-err') => ({ code, message, data, traceId })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function memoryTokens(access: string | null, refresh: string | null): TokenStore & { access: string | null; refresh: string | null } {
  return {
    access,
    refresh,
    getAccess() {
      return this.access
    },
    getRefresh() {
      return this.refresh
    },
    set(t: TokenResult) {
      this.access = t.accessToken
      this.refresh = t.refreshToken
    },
    clear() {
      this.access = null
      this.refresh = null
    },
  }
}

const tokenResult = (access: string, refresh: string): TokenResult => ({
  accessToken: access,
  refreshToken: refresh,
  expiresIn: 900,
  user: {
    id: 'u1',
    username: 'acme-owner',
    name: 'Owner',
    email: 'o@example.com',
    phone: '',
    employeeId: '',
    role: 'owner',
    authSource: 'local',
    hasAvatar: false,
  },
})

function setup(handler: Handler, tokens = memoryTokens('old', 'r1')) {
  const notify = vi.fn<(e: ApiError) => void>()
  const onAuthFailure = vi.fn()
  const seen: InternalAxiosRequestConfig[] = []
  const http = createHttp({
    tokens,
    notify,
    onAuthFailure,
    adapter: async (config) => {
      // a snapshot: a retry reuses (and mutates) the same config object
      seen.push({ ...config, headers: new AxiosHeaders(config.headers) })
      const r = handler(config)
      if (r.delay) await sleep(r.delay)
      return respond(config, r.status, r.body, r.headers)
    },
  })
  const auth = (c: InternalAxiosRequestConfig) => AxiosHeaders.from(c.headers).get('Authorization')
  const refreshCalls = () => seen.filter((c) => c.url === REFRESH_URL)
  return { http, tokens, notify, onAuthFailure, seen, auth, refreshCalls }
}

/** A server whose resources accept only `Bearer new`, and whose refresh answers after `delay` ms. */
function serverAccepting(token: string, refresh: () => { status: number; body: unknown }, delay = 20): Handler {
  return (config) => {
    if (config.url === REFRESH_URL) return { ...refresh(), delay }
    const authz = AxiosHeaders.from(config.headers).get('Authorization')
    return authz === `Bearer ${token}`
      ? { status: 200, body: ok({ url: config.url }) }
      : { status: 401, body: fail(401, 'token expired') }
  }
}

describe('envelope', () => {
  it('resolves to data and sends the access token', async () => {
    const { http, seen, auth } = setup(() => ({ status: 200, body: ok({ id: 'c1' }) }))
    await expect(http.get('/api/admin/customers/c1')).resolves.toEqual({ id: 'c1' })
    expect(auth(seen[0])).toBe('Bearer old')
  })

  it('turns an error answer into an ApiError, toasts it once, and keeps field errors', async () => {
    const errors = [{ location: 'body.email', message: 'must be an e-mail', value: 'x' }]
    const { http, notify } = setup(() => ({ status: 400, body: fail(400, 'validation failed', { errors }) }))
    const err = await http.post('/api/x', {}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ status: 400, code: 400, message: 'validation failed', traceId: 't-err', notified: true })
    expect((err as ApiError).fieldErrors).toEqual(errors)
    expect(notify).toHaveBeenCalledTimes(1)
  })

  it('treats a non-zero code in a 200 as an error', async () => {
    const { http, notify } = setup(() => ({ status: 200, body: fail(409, 'duplicate') }))
    await expect(http.get('/api/x')).rejects.toMatchObject({ code: 409, message: 'duplicate' })
    expect(notify).toHaveBeenCalledTimes(1)
  })

  it('reads an error body without data (the API leaves it out)', async () => {
    const { http, notify } = setup(() => ({
      status: 409,
      body: { code: 409, message: '机器已分配给 Acme，请先回收', traceId: 't-409' },
    }))
    await expect(http.delete('/api/admin/machines/x')).rejects.toMatchObject({
      status: 409,
      message: '机器已分配给 Acme，请先回收',
      traceId: 't-409',
      data: null,
    })
    expect(notify).toHaveBeenCalledOnce()
  })

  it('lets callers opt out of the toast, for all or some statuses', async () => {
    const { http, notify } = setup((c) =>
      c.url === '/a' ? { status: 409, body: fail(409, 'has allocations') } : { status: 500, body: fail(500, 'internal error') },
    )
    await expect(http.delete('/a', { silent: true })).rejects.toMatchObject({ status: 409, notified: false })
    await expect(http.delete('/a', { silent: [409] })).rejects.toMatchObject({ status: 409 })
    expect(notify).not.toHaveBeenCalled()
    await expect(http.get('/b', { silent: [409] })).rejects.toMatchObject({ status: 500, traceId: 't-err' })
    expect(notify).toHaveBeenCalledTimes(1)
  })

  it('takes the trace ID from the header when the body is not an envelope', async () => {
    const { http } = setup(() => ({ status: 502, body: '<html>bad gateway</html>', headers: { 'x-trace-id': 'h-1' } }))
    await expect(http.get('/api/x')).rejects.toMatchObject({ status: 502, message: 'HTTP 502', traceId: 'h-1' })
  })

  it('reports a network failure as status 0', async () => {
    const notify = vi.fn()
    const http = createHttp({
      tokens: memoryTokens('a', 'r'),
      notify,
      onAuthFailure: vi.fn(),
      adapter: (config) => Promise.reject(new AxiosError('Network Error', 'ERR_NETWORK', config)),
    })
    await expect(http.get('/api/x')).rejects.toMatchObject({ status: 0 })
    expect(notify).toHaveBeenCalledTimes(1)
  })

  it('reads the JSON error out of a blob request', async () => {
    const { http } = setup(() => ({
      status: 404,
      body: new Blob([JSON.stringify(fail(404, 'no avatar'))], { type: 'application/json' }),
    }))
    await expect(http.blob('/api/customer/profile/avatar', { silent: true })).rejects.toMatchObject({
      status: 404,
      message: 'no avatar',
    })
  })

  it('drops empty query values', () => {
    expect(cleanParams({ a: '', b: undefined, c: null, d: 0, e: false, f: 'x' })).toEqual({ d: 0, e: false, f: 'x' })
  })
})

describe('refresh on 401', () => {
  it('refreshes exactly once for many concurrent 401s and retries them all', async () => {
    const ctx = setup(serverAccepting('new', () => ({ status: 200, body: ok(tokenResult('new', 'r2')) })))
    const urls = ['/api/a', '/api/b', '/api/c', '/api/d', '/api/e']
    const results = await Promise.all(urls.map((u) => ctx.http.get<{ url: string }>(u)))

    expect(results.map((r) => r.url)).toEqual(urls)
    expect(ctx.refreshCalls()).toHaveLength(1)
    const refresh = ctx.refreshCalls()[0]
    expect(ctx.auth(refresh)).toBeFalsy()
    expect(JSON.parse(refresh.data as string)).toEqual({ refreshToken: 'r1' })
    expect(ctx.tokens).toMatchObject({ access: 'new', refresh: 'r2' })
    // each request: one try with the old token, one retry with the new one
    for (const u of urls) {
      expect(ctx.seen.filter((c) => c.url === u).map(ctx.auth)).toEqual(['Bearer old', 'Bearer new'])
    }
    expect(ctx.notify).not.toHaveBeenCalled()
    expect(ctx.onAuthFailure).not.toHaveBeenCalled()
  })

  it('does not refresh again for a late 401 of a request sent with the old token', async () => {
    let slowSent = false
    const base = serverAccepting('new', () => ({ status: 200, body: ok(tokenResult('new', 'r2')) }), 5)
    const ctx = setup((config) => {
      const r = base(config)
      if (config.url === '/api/slow' && !slowSent) {
        slowSent = true
        return { ...r, delay: 60 } // its 401 arrives after the refresh finished
      }
      return r
    })
    const [fast, slow] = await Promise.all([ctx.http.get('/api/fast'), ctx.http.get('/api/slow')])
    expect(fast).toEqual({ url: '/api/fast' })
    expect(slow).toEqual({ url: '/api/slow' })
    expect(ctx.refreshCalls()).toHaveLength(1)
  })

  it('refreshes again for a later, separate expiry', async () => {
    let n = 0
    let valid = 'new1'
    const ctx = setup((config) => {
      if (config.url === REFRESH_URL) {
        n += 1
        valid = `new${n}`
        return { status: 200, body: ok(tokenResult(valid, `r${n + 1}`)) }
      }
      return AxiosHeaders.from(config.headers).get('Authorization') === `Bearer ${valid}`
        ? { status: 200, body: ok('fine') }
        : { status: 401, body: fail(401, 'expired') }
    })
    await ctx.http.get('/api/one')
    valid = 'rotated-away' // the access token expires again
    await ctx.http.get('/api/two')
    expect(ctx.refreshCalls()).toHaveLength(2)
    expect(ctx.tokens.refresh).toBe('r3')
  })

  it('logs out once and rejects every waiting request when the refresh fails', async () => {
    const ctx = setup(serverAccepting('new', () => ({ status: 401, body: fail(401, 'refresh token revoked') })))
    const results = await Promise.allSettled(['/api/a', '/api/b', '/api/c'].map((u) => ctx.http.get(u)))

    expect(results.every((r) => r.status === 'rejected')).toBe(true)
    for (const r of results) expect((r as PromiseRejectedResult).reason).toMatchObject({ status: 401 })
    expect(ctx.refreshCalls()).toHaveLength(1)
    expect(ctx.onAuthFailure).toHaveBeenCalledTimes(1)
    expect(ctx.tokens).toMatchObject({ access: null, refresh: null })
    expect(ctx.notify).not.toHaveBeenCalled()
  })

  it('keeps the session when the refresh fails for another reason (API down)', async () => {
    const ctx = setup(serverAccepting('new', () => ({ status: 503, body: fail(503, 'service unavailable') })))
    const results = await Promise.allSettled(['/api/a', '/api/b'].map((u) => ctx.http.get(u)))

    for (const r of results) expect((r as PromiseRejectedResult).reason).toMatchObject({ status: 503 })
    expect(ctx.refreshCalls()).toHaveLength(1)
    expect(ctx.onAuthFailure).not.toHaveBeenCalled()
    expect(ctx.tokens).toMatchObject({ access: 'old', refresh: 'r1' })
    expect(ctx.notify).toHaveBeenCalled()
  })

  it('gives up without a refresh call when there is no refresh token', async () => {
    const ctx = setup(serverAccepting('new', () => ({ status: 200, body: ok(tokenResult('new', 'r2')) })), memoryTokens('old', null))
    await expect(ctx.http.get('/api/a')).rejects.toMatchObject({ status: 401 })
    expect(ctx.refreshCalls()).toHaveLength(0)
    expect(ctx.onAuthFailure).toHaveBeenCalledTimes(1)
  })

  it('does not loop when the new token is refused too', async () => {
    const ctx = setup(serverAccepting('never', () => ({ status: 200, body: ok(tokenResult('new', 'r2')) })))
    await expect(ctx.http.get('/api/a')).rejects.toMatchObject({ status: 401 })
    expect(ctx.seen.filter((c) => c.url === '/api/a')).toHaveLength(2)
    expect(ctx.refreshCalls()).toHaveLength(1)
    expect(ctx.onAuthFailure).toHaveBeenCalledTimes(1)
  })

  it('never refreshes for requests that skip auth (login)', async () => {
    const ctx = setup((c) =>
      c.url === '/api/auth/login'
        ? { status: 401, body: fail(401, 'wrong username or password') }
        : { status: 200, body: ok(tokenResult('x', 'y')) },
    )
    await expect(ctx.http.post('/api/auth/login', {}, { skipAuth: true, silent: [401] })).rejects.toMatchObject({
      status: 401,
      message: 'wrong username or password',
    })
    expect(ctx.auth(ctx.seen[0])).toBeFalsy()
    expect(ctx.refreshCalls()).toHaveLength(0)
    expect(ctx.onAuthFailure).not.toHaveBeenCalled()
  })
})
