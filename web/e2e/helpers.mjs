// Shared pieces of the browser tests: the stack's URL, Debian's Chromium
// through playwright-core, screenshots on failure, and small API helpers.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import assert from 'node:assert/strict'
import { chromium } from 'playwright-core'

export const BASE_URL = (process.env.REMOTEGPU_URL ?? '').replace(/\/+$/, '')
if (!BASE_URL) {
  throw new Error(
    'REMOTEGPU_URL is not set. The browser tests run against a real stack: start one with ' +
      '`bin/remotegpu testenv -- bash -c "cd web && npm run test:e2e"` from the repository root (or `make test`), ' +
      'or point REMOTEGPU_URL at a running `make run`, e.g. REMOTEGPU_URL=http://127.0.0.1:8080 npm run test:e2e',
  )
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const here = path.dirname(fileURLToPath(import.meta.url))
export const RESULTS_DIR = path.resolve(here, '..', 'test-results')

/** Demo accounts created by the seed. */
export const DEMO = {
  admin: { username: 'admin', password: 'Admin@12345' },
  acmeOwner: { username: 'acme-owner', password: 'Owner@12345' },
  acmeMember: { username: 'acme-dev', password: 'Member@12345' },
  globexOwner: { username: 'globex-owner', password: 'Owner@12345' },
  globexMember: { username: 'globex-dev', password: 'Member@12345' },
}

/** A suffix that makes names unique per run, so reruns against the same data pass. */
export function uniq() {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`
}

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/**
 * Run `fn` with a fresh page (its own cookies and localStorage); on failure
 * save a screenshot named after the test into web/test-results/.
 */
export async function withPage(browser, t, fn) {
  const context = await browser.newContext({ baseURL: BASE_URL, viewport: { width: 1440, height: 900 } })
  context.setDefaultTimeout(15_000)
  // Whatever the Content-Security-Policy blocks is an error of the page too.
  await context.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`Content Security Policy violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`),
    ),
  )
  const page = await context.newPage()
  const consoleErrors = []
  page.on('pageerror', (e) => consoleErrors.push(String(e)))
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) consoleErrors.push(msg.text())
  })
  // Sockets authenticate with a one-time ticket; an access token never travels in a URL.
  page.on('websocket', (ws) => {
    if (!/[?&]ticket=/.test(ws.url()) || /[?&]token=/.test(ws.url())) consoleErrors.push(`WebSocket without a ticket: ${ws.url()}`)
  })
  try {
    await fn(page)
    // An uncaught error in the page fails the test even when the steps passed.
    assert.deepEqual(consoleErrors, [], 'uncaught errors (or blocked content) in the page')
  } catch (err) {
    mkdirSync(RESULTS_DIR, { recursive: true })
    const file = path.join(RESULTS_DIR, `${t.name.replace(/[^\w-]+/g, '_').slice(0, 100)}.png`)
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined)
    if (consoleErrors.length) err.message += `\npage errors:\n${consoleErrors.join('\n')}`
    err.message += `\nscreenshot: ${file}\nurl: ${page.url()}`
    throw err
  } finally {
    await context.close()
  }
}

/** Sign in through the login page and wait until the console shows the user's home. */
export async function login(page, { username, password }, expectPath) {
  await page.goto('/login')
  await page.getByTestId('login-username').fill(username)
  await page.getByTestId('login-password').fill(password)
  await page.getByTestId('login-submit').click()
  await page.waitForURL((url) => url.pathname !== '/login')
  if (expectPath) await page.waitForURL((url) => url.pathname === expectPath)
}

/** The success toast (ElMessage). */
export function successToast(page) {
  return page.locator('.el-message--success').last()
}

/** Sign in through the API; returns the access token. */
export async function apiToken({ username, password }) {
  const res = await api('POST', '/api/auth/login', { body: { username, password } })
  if (res.status !== 200) throw new Error(`API login of ${username} answered ${res.status}: ${res.message}`)
  return res.data.accessToken
}

/** Poll `probe` until it returns a truthy value. */
export async function eventually(probe, { timeoutMs = 20_000, what = 'the condition' } = {}) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 300))
  }
}

/** An API call with the JSON envelope unwrapped; throws on an error answer. */
export async function api(method, url, { token, body } = {}) {
  const res = await fetch(`${BASE_URL}${url}`, {
    method,
    headers: {
      ...(body ? { 'Content-Type': 'application/json' } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  })
  const json = await res.json().catch(() => null)
  return { status: res.status, code: json?.code, message: json?.message, data: json?.data }
}

/**
 * Wait for a mail to `to` in the dev SMTP sink that arrived after `since`,
 * whose subject matches `subject` and whose text matches `pattern`; returns the match.
 */
export async function waitForMail(to, { subject = /./, pattern, since = 0, timeoutMs = 20_000 }) {
  const deadline = Date.now() + timeoutMs
  let seen = []
  while (Date.now() < deadline) {
    const res = await fetch(`${BASE_URL}/dev/mail.json?to=${encodeURIComponent(to)}`)
    if (!res.ok) throw new Error(`GET /dev/mail.json answered ${res.status}; is the dev mail sink enabled?`)
    seen = await res.json()
    const mails = (Array.isArray(seen) ? seen : [])
      .filter((m) => Date.parse(m.receivedAt) >= since - 1000)
      .sort((a, b) => Date.parse(b.receivedAt) - Date.parse(a.receivedAt))
    for (const m of mails) {
      const match = subject.test(m.subject) && m.text.match(pattern)
      if (match) return match
    }
    await new Promise((r) => setTimeout(r, 300))
  }
  throw new Error(`no mail to ${to} matching ${pattern} within ${timeoutMs} ms; the sink had ${JSON.stringify(seen).slice(0, 500)}`)
}

/** A real ed25519 public key in OpenSSH format and its SHA256 fingerprint, as ssh-keygen -l prints it. */
export function ed25519PublicKey(comment) {
  const { publicKey } = generateKeyPairSync('ed25519')
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
  const field = (buf) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(buf.length)
    return Buffer.concat([len, buf])
  }
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)])
  return {
    line: `ssh-ed25519 ${blob.toString('base64')} ${comment}`,
    fingerprint: `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`,
  }
}

/** Choose `text` in an Element Plus select (its dropdown is teleported to the body). */
export async function pickOption(page, select, text, { type } = {}) {
  await select.click()
  if (type !== undefined) await select.locator('input').first().fill(type)
  const option = page.locator('.el-select-dropdown:visible .el-select-dropdown__item', { hasText: text }).first()
  await option.waitFor()
  await option.click()
}

/** A customer with an active local owner, made through the API; returns its id and the owner's credentials. */
export async function createCustomer(adminToken, id) {
  const owner = { username: `e2e-own-${id}`, password: 'Owner#Pass-2024' }
  const res = await api('POST', '/api/admin/customers', {
    token: adminToken,
    body: {
      name: `Fleet 联系人 ${id}`,
      company: `Fleet Corp ${id}`,
      email: `fleet-${id}@example.com`,
      status: 'active',
      owner: {
        username: owner.username,
        name: `Fleet Owner ${id}`,
        email: `fleet-${id}@example.com`,
        authSource: 'local',
        password: owner.password,
      },
    },
  })
  if (res.status !== 201 && res.status !== 200) throw new Error(`creating a customer answered ${res.status}: ${res.message}`)
  return { id: res.data.customer.id, company: `Fleet Corp ${id}`, owner }
}
