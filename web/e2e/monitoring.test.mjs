// Monitoring, end to end (issue 4): the admin adds a machine and a real
// remotegpu-agent with the simulated GPU source starts on it; the real-time
// page shows its figures live (marked simulated) and they change; the agent
// stops, the machine turns offline and an offline alert is raised, which the
// admin acknowledges on the alert page; the agent comes back and the alert
// resolves by itself. The steps share the agent and run in order.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { api, apiToken, BASE_URL, DEMO, eventually, launch, login, successToast, uniq, withPage } from './helpers.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const AGENT = process.env.REMOTEGPU_AGENT_BIN ?? path.resolve(here, '..', '..', 'bin', 'remotegpu-agent')

const id = uniq()
const name = `e2e-mon-${id}`
let adminToken = ''
let machineId = ''
let bootstrapToken = ''
let stateDir = ''
let offlineRule = null // the offline rule as it was, restored after
let agent = null // the running agent process
let agentLog = ''

/** Start the agent (the same state directory each time: the second start reuses its credentials). */
function startAgent() {
  agent = spawn(
    AGENT,
    [
      '--gpu-source=simulated',
      '--url',
      BASE_URL,
      '--machine-id',
      machineId,
      '--bootstrap-token',
      bootstrapToken,
      '--state-dir',
      stateDir,
      '--host-ops=simulated',
      '--interval',
      '1s',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const keep = (chunk) => {
    agentLog = (agentLog + chunk).slice(-4000)
  }
  agent.stdout.on('data', keep)
  agent.stderr.on('data', keep)
}

async function stopAgent() {
  if (!agent || agent.exitCode !== null || agent.signalCode !== null) return
  const exited = once(agent, 'exit')
  agent.kill('SIGTERM')
  await exited
}

/** The machine's row of the real-time table (a virtual table: rows are divs). */
const realtimeRow = (page) => page.getByTestId(`rt-row-${name}`)

before(async () => {
  if (!existsSync(AGENT)) {
    throw new Error(`${AGENT} is missing: build it with \`make build\` at the repository root (or set REMOTEGPU_AGENT_BIN)`)
  }
  adminToken = await apiToken(DEMO.admin)
  const created = await api('POST', '/api/admin/machines', {
    token: adminToken,
    body: { name, region: '北京', gpuModel: 'A100 80G', gpuMemoryGb: 80, gpuCount: 8 },
  })
  assert.equal(created.status, 201, `creating the machine: ${created.message}`)
  machineId = created.data.machine.id
  bootstrapToken = created.data.agentToken

  // The offline rule opens an alert once a machine has been silent this long;
  // a short one keeps the test short. Put back as it was afterwards.
  const rules = await api('GET', '/api/admin/alerts/rules', { token: adminToken })
  offlineRule = rules.data.find((r) => r.type === 'offline')
  const set = await api('PUT', '/api/admin/alerts/rules', {
    token: adminToken,
    body: { rules: [{ type: 'offline', level: offlineRule.level, durationSeconds: 5, enabled: true }] },
  })
  assert.equal(set.status, 200, `shortening the offline rule: ${set.message}`)

  stateDir = mkdtempSync(path.join(tmpdir(), 'rgpu-e2e-agent-'))
  startAgent()
})

let browser
before(async () => {
  browser = await launch()
})

after(async () => {
  await stopAgent()
  await browser?.close()
  if (offlineRule) {
    const { type, level, durationSeconds, enabled } = offlineRule
    await api('PUT', '/api/admin/alerts/rules', { token: adminToken, body: { rules: [{ type, level, durationSeconds, enabled }] } })
  }
  if (stateDir) rmSync(stateDir, { recursive: true, force: true })
})

describe('monitoring and alerts', () => {
  test('a simulated agent’s machine shows live numbers that change', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, DEMO.admin, '/admin/dashboard')
      await page.goto(`/admin/monitoring/realtime?keyword=${name}`)
      await page.getByTestId('live-badge').and(page.locator('[data-status="live"]')).waitFor()

      const row = realtimeRow(page)
      await row.waitFor({ timeout: 30_000 }).catch((e) => {
        e.message += `\nagent log:\n${agentLog}`
        throw e
      })
      await row.getByText('在线').waitFor({ timeout: 20_000 })
      await row.getByTestId('simulated-tag').waitFor()

      // the figures arrive over the WebSocket and change from frame to frame
      const gpu = page.getByTestId(`rt-gpu-${name}`)
      await eventually(async () => /\d/.test(await gpu.innerText()), { what: 'a GPU utilisation figure' })
      const first = `${await gpu.innerText()} ${await page.getByTestId(`rt-temp-${name}`).innerText()}`
      await eventually(
        async () => `${await gpu.innerText()} ${await page.getByTestId(`rt-temp-${name}`).innerText()}` !== first,
        { timeoutMs: 20_000, what: `the figures of ${name} to change from ${first}` },
      )
      // one heat map cell per GPU the agent reports
      assert.ok(Number(await page.getByTestId('gpu-heatmap').getAttribute('data-cells')) >= 8)
    })
  })

  test('stopping the agent turns the machine offline and raises an offline alert the admin acknowledges', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, DEMO.admin, '/admin/dashboard')
      await page.goto(`/admin/monitoring/realtime?keyword=${name}`)
      const row = realtimeRow(page)
      await row.getByText('在线').waitFor({ timeout: 20_000 })

      await stopAgent()
      // three missed intervals, then the detector's next run; then the offline rule's 5 s
      await row.getByText('离线').waitFor({ timeout: 45_000 })
      await eventually(
        async () => {
          const open = await api('GET', `/api/admin/alerts?machineId=${machineId}&type=offline&status=open`, { token: adminToken })
          return open.data?.total > 0
        },
        { timeoutMs: 30_000, what: 'the offline alert' },
      )
      const badge = page.getByTestId(`rt-alerts-${name}`)
      await badge.waitFor({ timeout: 15_000 })

      // the badge leads to the machine's open alerts
      await badge.click()
      await page.waitForURL((url) => url.pathname === '/admin/monitoring/alerts' && url.searchParams.get('machineId') === machineId)
      const alertRow = page.getByTestId('alert-table').locator('.el-table__body-wrapper tr', { hasText: '离线' })
      await alertRow.waitFor()
      await alertRow.getByText('未处理').waitFor()

      await alertRow.getByTestId('alert-acknowledge').click()
      const box = page.locator('.el-message-box')
      await box.waitFor()
      await box.locator('.el-message-box__btns .el-button--primary').click()
      await successToast(page).getByText('告警已确认').waitFor()
      await alertRow.getByText('已确认').waitFor()
      assert.match(await alertRow.innerText(), /admin/)
      // the alert's text, from its code and figures, in either language
      assert.match(await alertRow.innerText(), /机器离线，已 5 秒以上没有上报数据/)
      await page.evaluate(() => localStorage.setItem('remotegpu.locale', 'en'))
      try {
        await page.reload()
        await page
          .getByTestId('alert-table')
          .locator('.el-table__body-wrapper tr', { hasText: 'machine offline: no data for 5 s or more' })
          .waitFor()
      } finally {
        await page.evaluate(() => localStorage.setItem('remotegpu.locale', 'zh-CN'))
      }
    })
  })

  test('the alert resolves when the agent returns', async (t) => {
    await withPage(browser, t, async (page) => {
      startAgent()
      await login(page, DEMO.admin, '/admin/dashboard')
      await page.goto(`/admin/monitoring/alerts?machineId=${machineId}&type=offline`)
      const alertRow = page.getByTestId('alert-table').locator('.el-table__body-wrapper tr', { hasText: '离线' }).first()
      await alertRow.waitFor()
      await eventually(
        async () => {
          await page.getByRole('button', { name: '搜索' }).click()
          await page.waitForTimeout(500)
          const text = await alertRow.innerText()
          return text.includes('已处理') && text.includes('自动恢复')
        },
        { timeoutMs: 40_000, what: 'the offline alert to resolve by itself' },
      )

      // and the machine is live again
      await page.goto(`/admin/monitoring/realtime?keyword=${name}`)
      await realtimeRow(page).getByText('在线').waitFor({ timeout: 20_000 })
    })
  })
})
