// One customer's first day: the admin adds it with an owner; the owner signs
// in, edits the profile, adds SSH keys, forgets the password and resets it.
// The steps share the customer and run in order.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  api,
  apiToken,
  DEMO,
  eventually,
  ed25519PublicKey,
  launch,
  login,
  successToast,
  uniq,
  waitForMail,
  withPage,
} from './helpers.mjs'

const id = uniq()
const customer = { name: `E2E 联系人 ${id}`, company: `E2E Corp ${id}`, email: `e2e-${id}@example.com` }
const owner = {
  username: `e2e-${id}`,
  name: `E2E Owner ${id}`,
  email: `e2e-${id}@example.com`,
  password: 'Start#Pass-2024',
}
let customerId = ''
const PNG_1PX = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
)

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

describe('customer onboarding', () => {
  test('the admin adds a customer with an owner', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, DEMO.admin, '/admin/dashboard')
      await page.goto('/admin/customers/list')
      await page.getByTestId('customer-add').click()
      await page.waitForURL((url) => url.pathname === '/admin/customers/add')

      await page.getByTestId('customer-name').fill(customer.name)
      await page.getByTestId('customer-company').fill(customer.company)
      await page.getByTestId('customer-email').fill(customer.email)
      await page.getByTestId('customer-phone').fill('+86 10 8888 0000')
      await page.getByTestId('owner-username').fill(owner.username)
      await page.getByTestId('owner-name').fill(owner.name)
      await page.getByTestId('owner-email').fill(owner.email)
      await page.getByTestId('owner-password').fill(owner.password)
      await page.getByTestId('customer-submit').click()

      await page.waitForURL((url) => /^\/admin\/customers\/[0-9a-f-]{36}$/.test(url.pathname))
      customerId = new URL(page.url()).pathname.split('/').pop()
      await page.getByTestId('customer-detail-name').getByText(customer.name).waitFor()
      // the detail page opens on the machines; the owner is under 用户
      await page.getByTestId('customer-machines').waitFor()
      await page.locator('#tab-users').click()
      await page.getByTestId('customer-users').getByText(owner.username, { exact: true }).waitFor()

      // The list finds it by company.
      await page.goto('/admin/customers/list')
      await page.getByTestId('customer-search').fill(customer.company)
      await page.getByTestId('customer-search').press('Enter')
      await page.getByTestId('customer-table').getByText(customer.name).waitFor()
    })
  })

  test('the owner signs in and edits the profile', async (t) => {
    assert.ok(customerId, 'needs the customer added by the previous test')
    await withPage(browser, t, async (page) => {
      await login(page, owner, '/customer/dashboard')
      await page.goto('/customer/settings/profile')
      const company = page.getByTestId('profile-company')
      await company.waitFor()
      await page.waitForFunction(
        (want) => document.querySelector('[data-testid="profile-company"]')?.value === want,
        customer.company,
      )
      assert.equal(await company.isDisabled(), true)

      const newName = `Renamed ${id}`
      await page.getByTestId('profile-name').fill(newName)
      await page.getByTestId('profile-phone').fill('+86 21 5555 0101')
      await page.getByTestId('profile-save').click()
      await successToast(page).waitFor()

      await page.reload()
      await page.waitForFunction(
        (want) => document.querySelector('[data-testid="profile-name"]')?.value === want,
        newName,
      )
      assert.equal(await page.getByTestId('profile-phone').inputValue(), '+86 21 5555 0101')
      await page.getByTestId('user-menu').getByText(newName).waitFor()

      // Avatar: a file that is not an image is refused before upload; a PNG is shown
      // from the API (fetched with the token), also after a reload.
      const fileInput = page.getByTestId('avatar-upload').locator('input[type=file]')
      await fileInput.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') })
      await page.locator('.el-message--error').waitFor()
      await fileInput.setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: PNG_1PX })
      const avatar = page.getByTestId('avatar-upload').locator('img[src^="blob:"]')
      await avatar.waitFor()
      await page.reload()
      await avatar.waitFor()
    })
  })

  test('the owner adds an SSH key; bad and duplicate keys are refused at the field', async (t) => {
    assert.ok(customerId, 'needs the customer added by the first test')
    const key = ed25519PublicKey(`e2e@${id}`)
    await withPage(browser, t, async (page) => {
      await login(page, owner, '/customer/dashboard')
      await page.goto('/customer/settings/ssh-keys')
      const table = page.getByTestId('ssh-key-table')
      await table.waitFor()

      await page.getByTestId('ssh-key-add').click()
      await page.getByTestId('ssh-key-public').fill(key.line)
      await page.getByTestId('ssh-key-name').fill(`laptop-${id}`)
      await page.getByTestId('ssh-key-submit').click()
      await successToast(page).waitFor()
      await table.getByText(key.fingerprint).waitFor()
      await table.getByText(`laptop-${id}`).waitFor()

      // Well-formed on the surface, but not a key: the API's 422 message shows under the field.
      const form = page.getByTestId('ssh-key-form')
      await page.getByTestId('ssh-key-add').click()
      await page.getByTestId('ssh-key-public').fill('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJhZGtleWJhZGtleWJhZA== broken')
      await page.getByTestId('ssh-key-name').fill(`broken-${id}`)
      await page.getByTestId('ssh-key-submit').click()
      const fieldError = form.locator('.el-form-item__error')
      await fieldError.waitFor()
      assert.notEqual((await fieldError.innerText()).trim(), '')

      // The same key twice: refused (409), again at the field.
      await page.getByTestId('ssh-key-public').fill(key.line)
      await page.getByTestId('ssh-key-submit').click()
      await fieldError.waitFor()
      await page.keyboard.press('Escape')

      assert.equal(await table.getByText(key.fingerprint).count(), 1)
      assert.equal(await table.getByText(`broken-${id}`).count(), 0)
    })
  })

  test('the admin notifies the customer; the owner reads it', async (t) => {
    assert.ok(customerId, 'needs the customer added by the first test')
    const title = `Maintenance window ${id}`
    const since = Date.now()
    await withPage(browser, t, async (page) => {
      await login(page, DEMO.admin, '/admin/dashboard')
      await page.goto(`/admin/customers/${customerId}`)
      await page.getByTestId('customer-notify').click()
      await page.getByTestId('notify-title').fill(title)
      await page.getByTestId('notify-content').fill('GPU hosts reboot on Saturday 02:00–04:00.')
      await page.getByTestId('notify-email').click()
      await page.getByTestId('notify-submit').click()
      await successToast(page).waitFor()
      // The sent list opens with the new batch in it.
      await page.getByTestId('notification-batches').getByText(title).waitFor()
    })

    // Delivery is a workflow: wait until it says it is done.
    const admin = await apiToken(DEMO.admin)
    await eventually(
      async () => {
        const res = await api('GET', `/api/admin/customers/${customerId}/notifications`, { token: admin })
        return res.data?.list?.find((b) => b.title === title && b.status === 'sent')
      },
      { what: `the batch "${title}" to be sent` },
    )
    await waitForMail(owner.email, { subject: new RegExp(title), pattern: /Saturday/, since })

    await withPage(browser, t, async (page) => {
      await login(page, owner, '/customer/dashboard')
      const badge = page.getByTestId('header-notifications').locator('.el-badge__content')
      await badge.getByText('1', { exact: true }).waitFor()
      await page.getByTestId('header-notifications').click()
      await page.waitForURL((url) => url.pathname === '/customer/settings/notifications')
      await page.getByTestId('notification-list').getByText(title).waitFor()
      await page.getByTestId('notification-read-all').click()
      await successToast(page).waitFor()
      await badge.waitFor({ state: 'hidden' })
    })
  })

  test('the owner resets a forgotten password with the code from the mail', async (t) => {
    assert.ok(customerId, 'needs the customer added by the first test')
    const newPassword = `Reset#${id.slice(-6)}Aa9`
    await withPage(browser, t, async (page) => {
      await page.goto('/login')
      await page.getByTestId('forgot-password-link').click()
      await page.waitForURL((url) => url.pathname === '/forgot-password')

      const since = Date.now()
      await page.getByTestId('forgot-account').fill(owner.username)
      await page.getByTestId('forgot-send').click()
      await page.getByTestId('forgot-code').waitFor()
      // The resend button counts down.
      assert.match(await page.getByTestId('forgot-resend').innerText(), /\d+/)

      const [, code] = await waitForMail(owner.email, { subject: /password reset/i, pattern: /\b(\d{6})\b/, since })
      await page.getByTestId('forgot-code').fill(code)
      await page.getByTestId('forgot-new-password').fill(newPassword)
      await page.getByTestId('forgot-confirm-password').fill(newPassword)
      await page.getByTestId('forgot-submit').click()
      await page.waitForURL((url) => url.pathname === '/login')
      await successToast(page).waitFor()

      await login(page, { username: owner.username, password: newPassword }, '/customer/dashboard')
    })
    const old = await api('POST', '/api/auth/login', { body: { username: owner.username, password: owner.password } })
    assert.equal(old.status, 401, 'the old password must no longer work')
    owner.password = newPassword
  })

  test('the owner changes the password; the other sessions end', async (t) => {
    assert.ok(customerId, 'needs the customer added by the first test')
    const other = await api('POST', '/api/auth/login', { body: { username: owner.username, password: owner.password } })
    assert.equal(other.status, 200, `signing in elsewhere: ${other.message}`)
    const changed = `Changed#${id.slice(-5)}Qx7`
    await withPage(browser, t, async (page) => {
      await login(page, owner, '/customer/dashboard')
      await page.goto('/customer/settings/profile')
      await page.getByTestId('old-password').fill(owner.password)
      await page.getByTestId('new-password').fill(changed)
      await page.getByTestId('confirm-password').fill(changed)
      await page.getByTestId('password-save').click()
      // "… signed out N other session(s)": at least the one opened above
      const toast = successToast(page)
      await toast.waitFor()
      const n = Number((await toast.innerText()).match(/(\d+)/)?.[1])
      assert.ok(n >= 1, `revoked sessions in "${await toast.innerText()}"`)
      // This session goes on.
      await page.reload()
      await page.getByTestId('profile-form').waitFor()
      assert.equal(new URL(page.url()).pathname, '/customer/settings/profile')
    })
    const refresh = await api('POST', '/api/auth/refresh', { body: { refreshToken: other.data.refreshToken } })
    assert.equal(refresh.status, 401, 'the other session must be over')
    owner.password = changed
  })
})
