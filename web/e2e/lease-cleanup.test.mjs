// A lease ends clean, or the admin says the host was reinstalled: the admin
// leases a machine that has no agent, reclaims it (202: the lease ends at
// once), sees it 清理中 with the end-of-lease steps waiting for the host,
// marks it reinstalled (and is offered a new agent token, which says until
// when it works), and finds it offline with the steps skipped. The steps
// share their data and run in order.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { api, apiToken, createCustomer, DEMO, eventually, launch, login, pickOption, uniq, withPage } from './helpers.mjs'

const id = uniq()
const name = `e2e-lc-${id}`
const STEPS = ['stop_tenant', 'remove_ssh_keys', 'rotate_password', 'rotate_agent_key']
let browser
let admin // API token
let customer // { id, company, owner }
let machineId = ''

before(async () => {
  browser = await launch()
  admin = await apiToken(DEMO.admin)
  customer = await createCustomer(admin, id)
  const created = await api('POST', '/api/admin/machines', {
    token: admin,
    body: { name, region: '北京', gpuModel: 'H100', gpuMemoryGb: 80, gpuCount: 8, cpuCores: 64, memoryGb: 512, diskGb: 4000, status: 'online' },
  })
  assert.equal(created.status, 201, `creating the machine: ${created.message}`)
  machineId = created.data.machine.id
})
after(async () => {
  await browser?.close()
})

/** The machine as the API has it now. */
const machine = async () => (await api('GET', `/api/admin/machines/${machineId}`, { token: admin })).data

describe('lease cleanup', () => {
  test('the admin leases the machine from its page', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, DEMO.admin, '/admin/dashboard')
      await page.goto(`/admin/machines/${machineId}`)
      await page.getByTestId('machine-detail-name').getByText(name).waitFor()
      await page.getByTestId('detail-allocate').click()
      const dialog = page.getByTestId('allocate-dialog')
      await dialog.waitFor()
      await pickOption(page, dialog.getByTestId('allocate-customer'), customer.company, { type: customer.company })
      await dialog.getByTestId('allocate-submit').click()
      await page.locator('.el-message--success', { hasText: '已分配' }).waitFor()
      await page.getByTestId('machine-customer').getByText(customer.company).waitFor()
    })
    // the lease has started (its workflow made it active)
    await eventually(async () => (await machine()).allocation?.status === 'active', { what: 'the lease to be active', timeoutMs: 30_000 })
  })

  test('reclaiming ends the lease at once; the machine is cleaned and its steps wait for the host', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, DEMO.admin, '/admin/dashboard')
      await page.goto(`/admin/machines/${machineId}`)
      await page.getByTestId('detail-reclaim').click()
      const box = page.locator('.el-message-box')
      await box.locator('textarea').fill(`e2e reclaim ${id}`)
      await box.getByRole('button', { name: '回收' }).click()
      await page.locator('.el-message--success', { hasText: '租期已结束，正在清理主机' }).waitFor()

      // 清理中 (status 维护中), the allocate button off, and the steps pending: no agent runs for this machine
      const header = page.locator('.card-header')
      await header.getByTestId('machine-cleaning').getByText('清理中').waitFor()
      await header.getByText('维护中').waitFor()
      assert.equal(await page.getByTestId('detail-allocate').isDisabled(), true)
      await page.getByTestId('detail-end-maintenance-blocked').waitFor()
      const cleanup = page.getByTestId('lease-cleanup')
      for (const step of STEPS) {
        const state = cleanup.getByTestId(`host-step-${step}`).locator('[data-state]')
        await state.waitFor()
        assert.equal(await state.getAttribute('data-state'), 'pending', `${step} waits for the host`)
      }
      assert.match(await cleanup.innerText(), /停止客户的容器和进程[\s\S]*等待主机确认/)
      // what the host did, by its code: in Chinese, and in English once the console speaks English
      assert.match(await cleanup.getByTestId('host-step-detail').first().innerText(), /^等待主机代理确认$/)
      await page.evaluate(() => localStorage.setItem('remotegpu.locale', 'en'))
      await page.reload()
      await page.getByTestId('lease-cleanup').getByTestId('host-step-detail').first().getByText('waiting for the host agent to confirm', { exact: true }).waitFor()
      await page.evaluate(() => localStorage.setItem('remotegpu.locale', 'zh-CN'))
      await page.reload()

      // the machine list says so too
      await page.goto(`/admin/machines/list?keyword=${name}`)
      const row = page.getByTestId('machine-table').locator('.el-table__body-wrapper tr', { hasText: name })
      await row.getByTestId('machine-cleaning').waitFor()
      assert.equal(await row.getByTestId('machine-allocate').isDisabled(), true)
    })
    const m = await machine()
    assert.equal(m.status, 'maintenance')
    assert.ok(m.cleanup?.allocationId, 'the machine records the cleanup')
  })

  test('marking it reinstalled ends the cleanup: the steps are skipped, the machine is offline, a new token is offered', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, DEMO.admin, '/admin/dashboard')
      await page.goto(`/admin/machines/${machineId}`)
      await page.getByTestId('mark-reinstalled').click()
      const dialog = page.getByTestId('reinstalled-dialog')
      await dialog.waitFor()
      await dialog.getByText('Agent 密钥立即作废').waitFor()
      await dialog.getByTestId('reinstalled-note').fill(`reimaged ${id}`)
      await dialog.getByTestId('reinstalled-submit').click()
      await dialog.getByText('已标记为已重装，清理已结束').waitFor()

      // the new agent token, shown once, with its expiry
      await dialog.getByTestId('reinstalled-issue-token').click()
      const token = page.getByTestId('secret-once-dialog')
      await token.waitFor()
      await token.getByText(/令牌在 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d 前有效/).waitFor()
      await token.getByTestId('agent-token').waitFor()
      await token.getByTestId('secret-once-ok').click()

      // offline until an agent registers on the reinstalled host; no cleanup any more
      const header = page.locator('.card-header')
      await header.getByText('离线').waitFor()
      assert.equal(await header.getByTestId('machine-cleaning').count(), 0)
      assert.equal(await page.getByTestId('lease-cleanup').count(), 0)

      // the allocation's steps: every one skipped, the cleanup "reinstalled"
      await page.getByTestId('allocation-table').getByTestId('allocation-detail').first().click()
      const drawer = page.getByTestId('allocation-drawer')
      await drawer.getByText(`e2e reclaim ${id}`).waitFor()
      await drawer.getByTestId('allocation-cleanup-status').getByText('已重装').waitFor()
      for (const step of STEPS) {
        assert.equal(await drawer.getByTestId(`host-step-${step}`).locator('[data-state]').getAttribute('data-state'), 'skipped', step)
      }
      assert.match(await drawer.getByTestId('host-steps').innerText(), /已跳过/)
      assert.match(await drawer.getByTestId('host-step-detail').first().innerText(), /^机器已重装$/)
      // and in English
      await page.evaluate(() => localStorage.setItem('remotegpu.locale', 'en'))
      await page.reload()
      await page.getByTestId('allocation-table').getByTestId('allocation-detail').first().click()
      await page.getByTestId('allocation-drawer').getByTestId('host-step-detail').first().getByText('the machine was reinstalled', { exact: true }).waitFor()
      await page.evaluate(() => localStorage.setItem('remotegpu.locale', 'zh-CN'))
    })
    const m = await machine()
    assert.equal(m.status, 'offline')
    assert.equal(m.cleanup ?? null, null)
  })
})
