// Who may open what: login redirects, wrong credentials, the 403 page.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { DEMO, launch, login, uniq, withPage } from './helpers.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

test('a visitor is sent to the login page and comes back after signing in', async (t) => {
  await withPage(browser, t, async (page) => {
    await page.goto('/admin/system/audit-logs')
    await page.waitForURL((url) => url.pathname === '/login')
    assert.equal(new URL(page.url()).searchParams.get('redirect'), '/admin/system/audit-logs')

    await page.getByTestId('login-username').fill(DEMO.admin.username)
    await page.getByTestId('login-password').fill(DEMO.admin.password)
    await page.getByTestId('login-submit').click()
    await page.waitForURL((url) => url.pathname === '/admin/system/audit-logs')
    await page.getByTestId('audit-table').waitFor()
  })
})

test('wrong credentials are answered on the form', async (t) => {
  await withPage(browser, t, async (page) => {
    await page.goto('/login')
    await page.getByTestId('login-username').fill(`nobody-${uniq()}`)
    await page.getByTestId('login-password').fill('Wrong#Password1')
    await page.getByTestId('login-submit').click()
    const error = page.getByTestId('login-error')
    await error.waitFor()
    assert.equal((await error.innerText()).trim(), '用户名或密码错误')
    assert.equal(new URL(page.url()).pathname, '/login')
    // the same answer in English, once the language is switched
    await page.getByTestId('language-switch').click()
    await page.getByRole('menuitem', { name: 'English' }).click()
    await error.getByText('wrong username or password', { exact: true }).waitFor()
  })
})

test('a member cannot reach admin pages (403 page)', async (t) => {
  await withPage(browser, t, async (page) => {
    await login(page, DEMO.acmeMember, '/customer/dashboard')
    const sidebar = page.getByTestId('sidebar')
    await sidebar.waitFor()
    assert.equal(await sidebar.locator('a[href^="/admin"], li[data-index^="/admin"]').count(), 0)

    for (const path of ['/admin/customers/list', '/admin/system/audit-logs']) {
      await page.goto(path)
      await page.waitForURL((url) => url.pathname === '/403')
      await page.getByTestId('page-403').waitFor()
    }
  })
})

test('an admin is kept out of the customer console', async (t) => {
  await withPage(browser, t, async (page) => {
    await login(page, DEMO.admin, '/admin/dashboard')
    await page.goto('/customer/settings/ssh-keys')
    await page.waitForURL((url) => url.pathname === '/403')
    await page.getByTestId('page-403').waitFor()
  })
})

test('the language switch changes the console and Element Plus together', async (t) => {
  await withPage(browser, t, async (page) => {
    await page.goto('/login')
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN')
    assert.equal(await page.getByTestId('login-submit').innerText(), '登录')

    await page.getByTestId('language-switch').click()
    await page.getByRole('menuitem', { name: 'English' }).click()
    await page.getByTestId('login-submit').getByText('Sign in').waitFor()
    assert.equal(await page.locator('html').getAttribute('lang'), 'en')

    // The choice is kept, and Element Plus's own texts follow it.
    await login(page, DEMO.admin, '/admin/dashboard')
    await page.goto('/admin/customers/list')
    await page.locator('.el-pagination__total').getByText('Total').waitFor()
    await page.getByTestId('breadcrumb').getByText('Customer list').waitFor()
  })
})
