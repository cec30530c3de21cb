// Fleet and leases, end to end: the admin adds a machine (its agent token is
// shown once), imports 20 more from the Excel template, allocates two of them
// to a new customer; the customer sees exactly those two and copies the SSH
// command (which shows in the connection history); the admin renews one and
// reclaims the other; the customer's view follows. The steps share their data
// and run in order.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import ExcelJS from 'exceljs'
import {
  api,
  apiToken,
  BASE_URL,
  createCustomer,
  DEMO,
  eventually,
  launch,
  login,
  pickOption,
  successToast,
  uniq,
  withPage,
} from './helpers.mjs'

const id = uniq()
const single = `e2e-m-${id}`
const prefix = `e2e-imp-${id}`
const imported = Array.from({ length: 20 }, (_, i) => `${prefix}-${String(i + 1).padStart(2, '0')}`)
const [renewed, reclaimed] = imported
let customer // { id, company, owner }
let endBefore = '' // the renewed machine's end as the customer saw it first

let browser
before(async () => {
  browser = await launch()
  customer = await createCustomer(await apiToken(DEMO.admin), id)
})
after(async () => {
  await browser?.close()
})

/** The template (as downloaded) with `names` filled in below its example row. */
async function filledTemplate(template, names) {
  const wb = new ExcelJS.Workbook()
  await wb.xlsx.load(template)
  const ws = wb.getWorksheet('机器')
  // columns by header (required ones end in *), values of the example row for the catalog's region and GPU model
  const col = {}
  ws.getRow(1).eachCell((cell, n) => {
    col[String(cell.value).replace(/\*$/, '')] = n
  })
  const example = ws.getRow(2)
  const region = example.getCell(col['地区']).value
  const gpuModel = example.getCell(col['GPU型号']).value
  names.forEach((name, i) => {
    const r = ws.getRow(3 + i)
    r.getCell(col['名称']).value = name
    r.getCell(col['地区']).value = region
    r.getCell(col['GPU型号']).value = gpuModel
    r.getCell(col['显存(GB)']).value = 24
    r.getCell(col['GPU数量']).value = 8
    r.getCell(col['CUDA版本']).value = '12.4'
    r.getCell(col['CPU核数']).value = 64
    r.getCell(col['内存(GB)']).value = 512
    r.getCell(col['磁盘(GB)']).value = 4096
    r.commit()
  })
  return Buffer.from(await wb.xlsx.writeBuffer())
}

/** The row of a table that shows `text`. */
const rowWith = (table, text) => table.locator('.el-table__body-wrapper tr', { hasText: text })

describe('fleet and leases', () => {
  test('the admin adds a machine; its agent token is shown once', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, DEMO.admin, '/admin/dashboard')
      await page.getByTestId('admin-dashboard').waitFor()
      await page.getByTestId('quick-add-machine').click()
      await page.waitForURL((url) => url.pathname === '/admin/machines/add')

      // SSH host and password say that they are generated when left empty
      assert.match(await page.getByTestId('machine-ssh-host').getAttribute('placeholder'), /自动生成/)
      assert.match(await page.getByTestId('machine-ssh-password').getAttribute('placeholder'), /自动生成/)

      await page.getByTestId('machine-name').fill(single)
      await pickOption(page, page.getByTestId('machine-region'), '北京')
      await pickOption(page, page.getByTestId('machine-gpu-model'), 'RTX')
      await page.getByTestId('machine-gpu-memory').locator('input').fill('32')
      await page.getByTestId('machine-gpu-count').locator('input').fill('4')
      await page.getByTestId('machine-submit').click()

      const dialog = page.getByTestId('secret-once-dialog')
      await dialog.waitFor()
      const token = (await dialog.getByTestId('agent-token').getByTestId('command-text').innerText()).trim()
      const command = await dialog.getByTestId('install-command').getByTestId('command-text').innerText()
      assert.match(token, /^rga_/)
      assert.ok(command.includes(token), 'the install command carries the token')
      await page.getByTestId('secret-once-ok').click()

      await page.waitForURL((url) => /^\/admin\/machines\/[0-9a-f-]{36}$/.test(url.pathname))
      await page.getByTestId('machine-detail-name').getByText(single).waitFor()
      // never again: the page shows that a token was issued, not the token
      await page.reload()
      await page.getByTestId('machine-detail-name').getByText(single).waitFor()
      assert.equal(await page.getByText(token).count(), 0)

      // the same name twice is refused at the field
      await page.goto('/admin/machines/add')
      await page.getByTestId('machine-name').fill(single)
      await pickOption(page, page.getByTestId('machine-region'), '北京')
      await pickOption(page, page.getByTestId('machine-gpu-model'), 'RTX')
      await page.getByTestId('machine-gpu-memory').locator('input').fill('32')
      await page.getByTestId('machine-gpu-count').locator('input').fill('4')
      await page.getByTestId('machine-submit').click()
      const nameItem = page.getByTestId('machine-name').locator('xpath=ancestor::div[contains(@class,"el-form-item")][1]')
      await nameItem.locator('.el-form-item__error').waitFor()
      assert.equal(await page.getByTestId('secret-once-dialog').isVisible(), false)
    })
  })

  test('the admin imports 20 machines from the template and watches the import run', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, DEMO.admin, '/admin/dashboard')
      await page.goto('/admin/machines/import')

      // the template comes from the download button
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('import-template').click()])
      assert.match(download.suggestedFilename(), /\.xlsx$/)
      const file = await filledTemplate(await readFile(await download.path()), imported)

      // a file that is not a workbook is refused before it is sent
      const input = page.getByTestId('import-upload').locator('input[type=file]')
      await input.setInputFiles({ name: 'machines.csv', mimeType: 'text/csv', buffer: Buffer.from('name\nx\n') })
      await page.locator('.el-message--error').waitFor()

      // one that only says it is a workbook is refused by the API, with the reason in the console's language
      const fake = { name: 'fake.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer: Buffer.from('名称,地区\nm1,北京\n') }
      await input.setInputFiles(fake)
      const problem = page.getByTestId('import-problem')
      await problem.getByText('不是 .xlsx 文件').waitFor()
      await problem.getByText('不是 Excel .xlsx 文件，请使用导入模板').waitFor()
      await page.evaluate(() => localStorage.setItem('remotegpu.locale', 'en'))
      await page.reload()
      await page.getByTestId('import-upload').locator('input[type=file]').setInputFiles(fake)
      await problem.getByText('not an Excel .xlsx file; use the import template').waitFor()
      await page.evaluate(() => localStorage.setItem('remotegpu.locale', 'zh-CN'))
      await page.reload()

      await input.setInputFiles({
        name: `fleet-${id}.xlsx`,
        mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        buffer: file,
      })
      const summary = page.getByTestId('import-summary')
      await summary.waitFor()
      assert.match(await summary.innerText(), /共 20 行/)
      assert.match(await summary.innerText(), /可导入 20/)
      const preview = page.getByTestId('import-preview')
      await rowWith(preview, imported[0]).first().waitFor()
      assert.match(new URL(page.url()).search, /id=/, 'the import is in the URL')

      await page.getByTestId('import-confirm').click()
      await page.locator('.el-message-box').getByRole('button', { name: '确认导入' }).click()
      // live progress while the workflow runs, then the per-row result
      await page.getByTestId('import-progress').waitFor()
      await page.getByTestId('import-result').waitFor({ timeout: 60_000 })
      const counts = await page.getByTestId('import-result-counts').innerText()
      assert.match(counts, /已创建\s*20/)
      const rows = page.getByTestId('import-result-rows')
      assert.equal(await rowWith(rows, '已创建').count(), 20)

      // a reload comes back to the same result, and the history lists the file
      await page.reload()
      await page.getByTestId('import-result').waitFor()
      await page.getByTestId('import-history').getByText(`fleet-${id}.xlsx`).first().waitFor()
    })

    // the machines exist
    const admin = await apiToken(DEMO.admin)
    const list = await api('GET', `/api/admin/machines?keyword=${prefix}&pageSize=50`, { token: admin })
    assert.equal(list.data.total, 20)
  })

  test('the machine list keeps its filters in the URL and offers a table and cards', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, DEMO.admin, '/admin/dashboard')
      await page.goto('/admin/machines/list')
      await page.getByTestId('machine-table').waitFor()
      await page.getByTestId('machine-search').fill(prefix)
      await page.getByTestId('machine-search').press('Enter')
      await page.waitForURL((url) => url.searchParams.get('keyword') === prefix)
      await pickOption(page, page.getByTestId('filter-allocation'), '未分配')
      await page.waitForURL((url) => url.searchParams.get('allocationStatus') === 'unallocated')
      await page.locator('.el-pagination__total').getByText('20').waitFor()

      await page.reload()
      await page.locator('.el-pagination__total').getByText('20').waitFor()
      assert.equal(await page.getByTestId('machine-search').inputValue(), prefix)

      // cards, remembered over a reload
      await page.getByTestId('machine-view').locator('label').nth(1).click()
      await page.getByTestId(`machine-card-${imported[0]}`).waitFor()
      await page.reload()
      await page.getByTestId(`machine-card-${imported[0]}`).waitFor()
      await page.getByTestId('machine-view').locator('label').first().click()
      await page.getByTestId('machine-table').waitFor()
    })
  })

  test('the admin allocates two of them to a customer with quick allocation', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, DEMO.admin, '/admin/dashboard')
      await page.goto(`/admin/customers/${customer.id}`)
      await page.getByTestId('customer-allocate').click()
      await page.waitForURL((url) => url.pathname === '/admin/allocations/quick' && url.searchParams.get('tenantId') === customer.id)
      // the customer comes chosen
      await page.getByTestId('quick-customer').getByText(customer.company).waitFor()

      const machines = page.getByTestId('quick-machines')
      for (const name of [renewed, reclaimed]) {
        await pickOption(page, machines, name, { type: name })
      }
      await page.keyboard.press('Escape')
      await page.getByTestId('quick-selected').getByText(renewed).waitFor()
      await page.getByTestId('quick-selected').getByText(reclaimed).waitFor()
      await page.getByTestId('quick-remark').fill(`e2e ${id}`)
      await page.getByTestId('quick-submit').click()
      await successToast(page).waitFor()

      await page.waitForURL((url) => url.pathname === '/admin/allocations' && url.searchParams.get('tenantId') === customer.id)
      const table = page.getByTestId('allocation-table')
      await rowWith(table, renewed).waitFor()
      await rowWith(table, reclaimed).waitFor()
    })
  })

  test('the customer sees exactly those two and copies the SSH command', async (t) => {
    await withPage(browser, t, async (page) => {
      await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE_URL })
      await login(page, customer.owner, '/customer/dashboard')
      await page.getByTestId(`overview-${renewed}`).waitFor()
      await page.getByTestId(`overview-${reclaimed}`).waitFor()

      await page.goto('/customer/machines/list')
      const cards = page.getByTestId('my-machines')
      await eventually(async () => (await cards.locator('[data-testid^="my-machine-e2e"]').count()) === 2, {
        what: 'two machine cards',
      })
      const names = await cards.getByTestId('my-machine-name').allInnerTexts()
      assert.deepEqual(names.map((n) => n.trim()).sort(), [renewed, reclaimed].sort())

      const card = page.getByTestId(`my-machine-${renewed}`)
      endBefore = (await card.getByTestId('my-machine-end').innerText()).trim()

      // the SSH info folds out: host, masked password with reveal, the command
      await card.getByTestId('my-machine-ssh-toggle').getByText('SSH').click()
      const password = card.getByTestId('ssh-password')
      await password.waitFor()
      assert.equal((await password.getByTestId('secret-value').innerText()).trim(), '••••••••')
      await password.getByTestId('secret-toggle').click()
      await eventually(async () => (await password.getByTestId('secret-value').innerText()).trim() !== '••••••••', {
        what: 'the revealed password',
      })

      await card.getByTestId('my-machine-copy').click()
      await page.locator('.el-message--success', { hasText: '已复制' }).waitFor()
      const clip = await page.evaluate(() => navigator.clipboard.readText())
      assert.match(clip, new RegExp(`^ssh .*${renewed}`))

      // the copy and the reveal are in the connection history
      await page.goto('/customer/machines/history')
      const history = page.getByTestId('connection-history')
      await eventually(
        async () => {
          await page.reload()
          await history.waitFor()
          return (await rowWith(history, '复制连接命令').filter({ hasText: renewed }).count()) > 0
        },
        { what: 'the copied command in the connection history' },
      )
      await rowWith(history, '查看SSH密码').filter({ hasText: renewed }).first().waitFor()
    })
  })

  test('the admin renews one allocation and reclaims the other', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, DEMO.admin, '/admin/dashboard')
      await page.goto(`/admin/allocations?tenantId=${customer.id}`)
      const table = page.getByTestId('allocation-table')

      await rowWith(table, renewed).getByTestId('allocation-extend').click()
      const extend = page.getByTestId('extend-dialog')
      await extend.waitFor()
      await extend.getByTestId('extend-months').locator('input').fill('2')
      await extend.getByTestId('extend-months').locator('input').press('Tab')
      await extend.getByTestId('extend-submit').click()
      await page.locator('.el-message--success', { hasText: '已续期' }).waitFor()
      await rowWith(table, renewed).getByText('3 个月').waitFor()

      await rowWith(table, reclaimed).getByTestId('allocation-reclaim').click()
      const box = page.locator('.el-message-box')
      await box.locator('textarea').fill(`e2e reclaim ${id}`)
      await box.getByRole('button', { name: '提前回收' }).click()
      // its own toast (the renewal's may still show): the lease has ended (202); the host's cleanup goes on
      await page.locator('.el-message--success', { hasText: '租期已结束，正在清理主机' }).waitFor({ timeout: 30_000 })
      await eventually(
        async () => {
          await page.reload()
          await table.waitFor()
          return (await rowWith(table, reclaimed).count()) === 0 && (await rowWith(table, renewed).count()) === 1
        },
        { what: 'the reclaimed allocation to leave the current tab' },
      )

      // history: reclaimed, and the host steps wait for an agent that never comes
      await page.getByTestId('allocation-tabs').getByText('历史分配').click()
      await page.waitForURL((url) => url.searchParams.get('tab') === 'history')
      const row = rowWith(table, reclaimed)
      await row.getByText('已回收').waitFor()
      await row.getByTestId('allocation-detail').click()
      const drawer = page.getByTestId('allocation-drawer')
      await drawer.getByText(`e2e reclaim ${id}`).waitFor()
      await drawer.getByTestId('host-step-unconfirmed').first().waitFor()
      assert.match(await drawer.getByTestId('host-steps').innerText(), /等待主机确认/)
    })
  })

  test("the customer's view follows: one machine left, with the later end", async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, customer.owner, '/customer/dashboard')
      await page.goto('/customer/machines/list')
      const cards = page.getByTestId('my-machines')
      await eventually(
        async () => {
          await page.reload()
          await cards.waitFor()
          return (await cards.locator('[data-testid^="my-machine-e2e"]').count()) === 1
        },
        { what: 'one machine card' },
      )
      const card = page.getByTestId(`my-machine-${renewed}`)
      await card.waitFor()
      const endAfter = (await card.getByTestId('my-machine-end').innerText()).trim()
      assert.ok(endAfter > endBefore, `the end moved on: ${endBefore} → ${endAfter}`)
      assert.equal(await page.getByTestId(`my-machine-${reclaimed}`).count(), 0)
    })

    // nor can its password be fetched any longer
    const token = await apiToken(customer.owner)
    const admin = await apiToken(DEMO.admin)
    const gone = await api('GET', `/api/admin/machines?keyword=${reclaimed}`, { token: admin })
    const machineId = gone.data.list[0].id
    const reveal = await api('POST', `/api/customer/machines/${machineId}/reveal-password`, { token })
    assert.equal(reveal.status, 404)
  })
})
