// Payloads are encrypted in Temporal; an admin who opens the Temporal UI from
// the console reads them decoded through the api's codec endpoint.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { BASE_URL, DEMO, api, apiToken, launch, login, uniq, withPage } from './helpers.mjs'

const UI_URL = (process.env.TEMPORAL_UI_URL ?? '').replace(/\/+$/, '')

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

test('an admin opens the Temporal UI from the console and reads the payloads decoded', async (t) => {
  assert.ok(UI_URL, 'TEMPORAL_UI_URL is not set: run under `bin/remotegpu testenv` (or `make test`)')
  // A workflow whose history holds e-mail addresses: a notification mailed to acme's users.
  const token = await apiToken(DEMO.admin)
  const customers = await api('GET', '/api/admin/customers?pageSize=200', { token })
  const acme = customers.data.list.find((c) => c.code === 'acme')
  const sent = await api('POST', `/api/admin/customers/${acme.id}/notifications`, {
    token,
    body: { title: `Temporal UI ${uniq()}`, content: 'codec', level: 'info', sendEmail: true },
  })
  assert.equal(sent.status, 202, sent.message)
  const wid = encodeURIComponent(sent.data.workflowId)
  const described = await fetch(`${UI_URL}/api/v1/namespaces/default/workflows/${wid}`).then((r) => r.json())
  const history = `${UI_URL}/namespaces/default/workflows/${wid}/${described.workflowExecutionInfo.execution.runId}/history`

  await withPage(browser, t, async (page) => {
    await login(page, DEMO.admin, '/admin/dashboard')
    await page.getByTestId('user-menu').click()
    const [tab] = await Promise.all([page.context().waitForEvent('page'), page.getByTestId('open-temporal-ui').click()])
    await tab.waitForURL((url) => url.origin === UI_URL, { timeout: 30_000 })

    // As the dev server configures it, the UI calls the codec without
    // credentials: it is refused, and the payloads stay sealed.
    await tab.goto(history)
    await tab.getByText('Event History').first().waitFor({ timeout: 30_000 })
    await tab.getByText('encryption-key-id').first().waitFor()
    await showEvent(tab, 'DeliverNotification')
    assert.ok(!(await tab.content()).includes('owner@acme.example'), 'the address shows without the codec')

    // The one-time browser setting of the README: Codec Server → this
    // browser's endpoint, with cross-origin credentials (the console's cookie).
    await tab.evaluate((endpoint) => {
      localStorage.setItem('overrideRemoteCodecConfiguration', 'true')
      localStorage.setItem('endpoint', JSON.stringify(endpoint))
      localStorage.setItem('includeCredentials', 'true')
    }, `${BASE_URL}/api/temporal-codec`)
    await tab.goto(history)
    await tab.getByText('"BatchID"').first().waitFor({ timeout: 30_000 }) // the workflow's input, decoded
    await showEvent(tab, 'DeliverNotification')
    await tab.getByText('owner@acme.example').first().waitFor() // the activity's result: the recipients
    assert.equal(await tab.getByText('encryption-key-id').count(), 0)
  })
})

/** Open an activity's details from the timeline. */
async function showEvent(tab, name) {
  await tab.locator(`text=${name}`).first().click({ force: true })
  await tab.getByText('Activity Task Scheduled').first().waitFor()
}
