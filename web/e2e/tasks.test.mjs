// Training tasks, end to end (3.1.3): a customer leases a machine whose real
// remotegpu-agent (simulated GPUs, 2 of them) runs task containers on the
// stack's Docker daemon with the test image remotegpu/testimage:latest.
// The customer creates a task in the console, watches its live log and stops
// it; a task that wants a GPU queues behind one that holds both and starts
// when that one ends; a task running /opt/rgpu-test/checkpoint.sh crashes
// after a checkpoint, is restarted and its log says "resumed from step". The
// steps share the machine and run in order.
//
// Needs the stack of `bin/remotegpu testenv` with its Docker daemon
// (DOCKER_HOST) and the test image, and bin/remotegpu-agent (`make build`).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { api, apiToken, BASE_URL, createCustomer, DEMO, eventually, launch, login, pickOption, successToast, uniq, withPage } from './helpers.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const AGENT = process.env.REMOTEGPU_AGENT_BIN ?? path.resolve(here, '..', '..', 'bin', 'remotegpu-agent')
const IMAGE = 'remotegpu/testimage:latest'

const id = uniq()
const machineName = `e2e-task-${id}`
let browser
let admin = '' // API token
let customer // { id, company, owner }
let owner = '' // the customer owner's API token
let machineId = ''
let stateDir = ''
let agent = null
let agentLog = ''

function startAgent(bootstrapToken) {
  agent = spawn(
    AGENT,
    [
      '--gpu-source=simulated',
      '--sim-gpus=2',
      '--url',
      BASE_URL,
      '--machine-id',
      machineId,
      '--bootstrap-token',
      bootstrapToken,
      '--state-dir',
      stateDir,
      // task commands run for real on DOCKER_HOST; the login account is left alone
      '--host-ops=simulated',
      '--interval',
      '1s',
      '--stop-timeout',
      '5s',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: process.env },
  )
  const keep = (chunk) => {
    agentLog = (agentLog + chunk).slice(-6000)
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

/** Adds the agent's last words to a failure. */
async function withAgentLog(fn) {
  try {
    return await fn()
  } catch (e) {
    e.message += `\nagent log:\n${agentLog}`
    throw e
  }
}

/** The task as the customer's API has it. */
const task = async (taskId) => (await api('GET', `/api/customer/tasks/${taskId}`, { token: owner })).data

/** A task created through the API (the UI makes the first one). */
async function createTask(body) {
  const res = await api('POST', '/api/customer/tasks/training', {
    token: owner,
    body: {
      type: 'training',
      machineId,
      anyMachine: false,
      image: IMAGE,
      workDir: '',
      scriptPath: '',
      env: [],
      autoRestart: false,
      maxAttempts: 1,
      notifyInApp: false,
      notifyMail: false,
      checkpointIntervalSeconds: 0,
      servicePort: null,
      ...body,
    },
  })
  assert.equal(res.status, 201, `creating task ${body.name}: ${res.status} ${res.message}`)
  return res.data
}

/** Confirm the open ElMessageBox with its primary (or danger) button. */
async function confirmBox(page) {
  const box = page.locator('.el-message-box')
  await box.waitFor()
  await box.locator('.el-message-box__btns .el-button--primary, .el-message-box__btns .el-button--danger').last().click()
}

before(async () => {
  if (!existsSync(AGENT)) {
    throw new Error(`${AGENT} is missing: build it with \`make build\` at the repository root (or set REMOTEGPU_AGENT_BIN)`)
  }
  if (!process.env.DOCKER_HOST) {
    throw new Error(
      'DOCKER_HOST is not set: the task containers run on the Docker daemon of the stack. Run the tests with ' +
        '`bin/remotegpu testenv -- bash -c "cd web && npm run test:e2e"`, whose stack starts one with the test image',
    )
  }
  browser = await launch()
  admin = await apiToken(DEMO.admin)
  customer = await createCustomer(admin, id)
  owner = await apiToken(customer.owner)

  const created = await api('POST', '/api/admin/machines', {
    token: admin,
    body: { name: machineName, region: '北京', gpuModel: 'A100 80G', gpuMemoryGb: 80, gpuCount: 2, status: 'online' },
  })
  assert.equal(created.status, 201, `creating the machine: ${created.message}`)
  machineId = created.data.machine.id
  stateDir = mkdtempSync(path.join(tmpdir(), 'rgpu-e2e-tasks-'))
  startAgent(created.data.agentToken)

  const leased = await api('POST', '/api/admin/allocations', {
    token: admin,
    body: { tenantId: customer.id, machineIds: [machineId], months: 1, remark: `e2e tasks ${id}` },
  })
  assert.ok(leased.status === 200 || leased.status === 201, `leasing the machine: ${leased.status} ${leased.message}`)

  // the lease is active and the agent has reported the host's images
  await withAgentLog(() =>
    eventually(
      async () => {
        const res = await api('GET', `/api/customer/images?machineId=${machineId}`, { token: owner })
        const list = Array.isArray(res.data) ? res.data : (res.data?.list ?? [])
        return res.status === 200 && list.some((img) => img.ref === IMAGE)
      },
      { timeoutMs: 60_000, what: `the machine leased and ${IMAGE} reported by its agent` },
    ),
  )
})

after(async () => {
  await stopAgent()
  await browser?.close()
  if (stateDir) rmSync(stateDir, { recursive: true, force: true })
})

describe('training tasks', () => {
  test('a customer creates a task, watches its live log and stops it', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, customer.owner, '/customer/dashboard')
      await page.getByTestId('quick-create-task').click()
      await page.waitForURL((url) => url.pathname === '/customer/tasks/create-training')

      const name = `ticker-${id}`
      await page.getByTestId('task-name').fill(name)
      await pickOption(page, page.getByTestId('task-machine'), machineName)
      await page.getByTestId('task-machine-info').getByText('模拟 GPU').waitFor()
      await pickOption(page, page.getByTestId('task-image'), IMAGE, { type: 'testimage' })
      await page
        .getByTestId('task-command')
        .fill('i=0; while true; do i=$((i+1)); echo "tick $i from $RGPU_TASK_ID"; sleep 0.1; done')
      await page.getByTestId('task-submit').click()

      await page.waitForURL((url) => /^\/customer\/tasks\/[0-9a-f-]{36}$/.test(url.pathname), { timeout: 20_000 })
      await page.getByTestId('task-name').getByText(name).waitFor()
      await page.getByTestId('task-simulated').waitFor()

      // running, and its lines arrive live
      const status = page.getByTestId('task-status')
      await withAgentLog(() => status.and(page.locator('[data-status="running"]')).waitFor({ timeout: 30_000 }))
      await page.getByTestId('live-badge').and(page.locator('[data-status="live"]')).waitFor()
      const viewer = page.getByTestId('log-viewer')
      await withAgentLog(() => viewer.getByText(/tick \d+ from/).first().waitFor({ timeout: 30_000 }))
      const seen = Number(await viewer.getAttribute('data-lines'))
      await eventually(async () => Number(await viewer.getAttribute('data-lines')) > seen + 10, {
        what: 'more lines to arrive over the socket',
      })
      // following: the newest line is in view
      assert.equal(await page.getByTestId('log-follow').getAttribute('data-following'), 'true')

      // a server-side search highlights its matches; back to the live log
      await page.getByTestId('log-search').fill('tick 3 from')
      await page.getByTestId('log-search-submit').click()
      await page.getByTestId('log-search-state').getByText('1 行包含「tick 3 from」').waitFor()
      await viewer.locator('mark', { hasText: 'tick 3 from' }).waitFor()
      assert.equal(await viewer.getAttribute('data-lines'), '1')
      await page.getByTestId('log-search-clear').click()
      await page.getByTestId('log-search-state').waitFor({ state: 'detached' })
      await eventually(async () => Number(await viewer.getAttribute('data-lines')) > seen, { what: 'the whole log back' })

      // stop it: the confirmation says how, then it is stopped by the user
      await page.getByTestId('task-stop').click()
      await page.locator('.el-message-box').getByText('SIGTERM').waitFor()
      await confirmBox(page)
      await successToast(page).getByText('已发送停止请求').waitFor()
      await withAgentLog(() => status.and(page.locator('[data-status="stopped"]')).waitFor({ timeout: 45_000 }))
      await page.getByTestId('task-reason').getByText('已由用户停止').waitFor()
      await page.getByTestId('task-restart').waitFor()
      assert.equal(await page.getByTestId('task-stop').count(), 0)

      // the list's history has it, with delete allowed now
      await page.goto(`/customer/tasks/history?q=${name}`)
      const card = page.getByTestId(`task-card-${name}`)
      await card.getByTestId('task-card-status').getByText('已停止').waitFor()
      assert.equal(await card.getByTestId('task-card-delete').isDisabled(), false)
    })
  })

  test('a task queues behind one that holds every GPU and starts when it ends', async (t) => {
    const big = await createTask({ name: `holds-all-${id}`, gpuCount: 2, command: 'echo "holding both GPUs"; sleep 12; echo released' })
    await withAgentLog(() =>
      eventually(async () => (await task(big.id))?.status === 'running', { timeoutMs: 30_000, what: 'the big task to run' }),
    )
    const small = await createTask({ name: `waits-${id}`, gpuCount: 1, command: 'echo "got my GPU: $CUDA_VISIBLE_DEVICES"' })
    const queued = await task(small.id)
    assert.equal(queued.status, 'queued')
    assert.equal(queued.queuePosition, 1)

    await withPage(browser, t, async (page) => {
      await login(page, customer.owner, '/customer/dashboard')
      // the queue tab: by machine, with its place
      await page.goto('/customer/tasks/queue')
      const group = page.getByTestId(`queue-${machineName}`)
      await group.getByTestId(`task-card-${small.name}`).getByTestId('task-card-position').getByText('第 1 位').waitFor()
      // its page says where it stands, and follows it to the end
      await page.goto(`/customer/tasks/${small.id}`)
      await page.getByTestId('task-queue-position').getByText('第 1 位').waitFor()
      const status = page.getByTestId('task-status')
      await withAgentLog(() => status.and(page.locator('[data-status="succeeded"]')).waitFor({ timeout: 60_000 }))
      await page.getByTestId('log-viewer').getByText(/got my GPU: \d/).waitFor({ timeout: 20_000 })
    })
    const done = await task(big.id)
    assert.equal(done.status, 'succeeded', 'the big task ended first')
    assert.ok(Date.parse((await task(small.id)).startedAt) >= Date.parse(done.finishedAt) - 1000, 'the small one started when the big one ended')
  })

  test('a task that crashes after a checkpoint restarts and resumes from it', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, customer.owner, '/customer/dashboard')
      await page.goto(`/customer/tasks/create-training?machineId=${machineId}`)
      const name = `resume-${id}`
      await page.getByTestId('task-name').fill(name)
      await page.getByTestId('task-machine-info').waitFor()
      await pickOption(page, page.getByTestId('task-image'), IMAGE, { type: 'testimage' })
      await page.getByTestId('task-command').fill('/opt/rgpu-test/checkpoint.sh')
      // crash once after step 3, a little pace so the steps show
      await page.getByTestId('task-env-add').click()
      await page.getByTestId('task-env-0').getByTestId('task-env-name').fill('CRASH_AT')
      await page.getByTestId('task-env-0').getByTestId('task-env-value').fill('3')
      await page.getByTestId('task-env-add').click()
      await page.getByTestId('task-env-1').getByTestId('task-env-name').fill('STEPS')
      await page.getByTestId('task-env-1').getByTestId('task-env-value').fill('6')
      // advanced: auto-restart, up to 3 attempts
      await page.getByTestId('task-advanced').locator('.el-collapse-item__header').click()
      await page.getByTestId('task-auto-restart').click()
      assert.equal(await page.locator('[data-testid="task-max-attempts"] input, input[data-testid="task-max-attempts"]').first().inputValue(), '3')
      await page.getByTestId('task-submit').click()
      await page.waitForURL((url) => /^\/customer\/tasks\/[0-9a-f-]{36}$/.test(url.pathname), { timeout: 20_000 })

      // attempt 1 crashes after step 3 (exit 3); after the backoff attempt 2 resumes and finishes
      const status = page.getByTestId('task-status')
      await withAgentLog(() => status.and(page.locator('[data-status="succeeded"]')).waitFor({ timeout: 90_000 }))
      const viewer = page.getByTestId('log-viewer')
      await viewer.getByText('resumed from step 3').waitFor({ timeout: 20_000 })
      await viewer.getByText('done: 6 steps').waitFor()
      await page.getByTestId('task-info').getByText('第 2 / 3 次').waitFor()

      // the attempts: the first ended with exit code 3
      await page.getByTestId('task-detail-tabs').getByText('运行记录').click()
      const attempts = page.getByTestId('attempt-table')
      await attempts.getByText('进程以退出码 3 结束').waitFor()
      // its log is there still
      await attempts.locator('.el-table__body-wrapper tr').last().getByRole('button').click()
      await page.getByTestId('log-viewer').getByText('crashing after step 3').waitFor({ timeout: 20_000 })

      // and the result it wrote
      await page.getByTestId('task-detail-tabs').getByText('输出文件').click()
      await page.getByTestId('task-outputs').getByText('result.txt').waitFor({ timeout: 20_000 })
    })
  })
})
