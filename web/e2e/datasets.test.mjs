// Datasets, end to end (3.1.5, 2.1.7, 4.3.1): a customer uploads a folder and
// a zip through the console (the zip is extracted by the ingest), uploads
// the same file again and sees it complete instantly (秒传, no part sent),
// uploads 200 MB while the api is killed half way, restarts it, reloads the
// page and resumes without resending the parts the server had confirmed,
// mounts the dataset on a leased machine whose agent writes the read-only
// copy on this host, and shares it with another company, which sees it
// under 共享给我的 after an admin approved the share in the console.
//
// Needs the stack of `bin/remotegpu testenv`, the built console (npm run
// build), bin/remotegpu (the second api process) and bin/remotegpu-agent.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { api, apiToken, BASE_URL, createCustomer, DEMO, eventually, launch, login, pickOption, RESULTS_DIR, uniq, withPage } from './helpers.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(here, '..', '..')
const SERVER = process.env.REMOTEGPU_BIN ?? path.join(ROOT, 'bin', 'remotegpu')
const AGENT = process.env.REMOTEGPU_AGENT_BIN ?? path.join(ROOT, 'bin', 'remotegpu-agent')
const MiB = 1024 * 1024

const id = uniq()
let browser
let admin = ''
let acme // the uploading company
let other // the company it is shared with
let owner = ''
let work = ''
let folder = ''
let machineId = ''
const machineName = `e2e-ds-${id}`
let agent = null
let agentLog = ''

/** Confirm the open ElMessageBox with its primary (or danger) button. */
async function confirmBox(page) {
  const box = page.locator('.el-message-box')
  await box.waitFor()
  await box.locator('.el-message-box__btns .el-button--primary, .el-message-box__btns .el-button--danger').last().click()
}

const dataset = async (datasetId, token = owner) => (await api('GET', `/api/customer/datasets/${datasetId}`, { token })).data

/** The dataset's ID from the upload page once it exists (the done view links to it; the API lists it). */
async function datasetByName(name, token = owner) {
  return eventually(
    async () => {
      const res = await api('GET', `/api/customer/datasets?q=${encodeURIComponent(name)}`, { token })
      return res.data?.list?.find((d) => d.name === name)
    },
    { what: `dataset ${name} in the list` },
  )
}

async function fillUploadForm(page, name) {
  await page.goto('/customer/datasets/upload')
  await page.getByTestId('ds-name').fill(name)
}

/** The part numbers PUT by the page, per upload ID. */
function recordParts(page) {
  const sent = []
  page.on('request', (req) => {
    const m = req.method() === 'PUT' && req.url().match(/\/uploads\/([^/]+)\/parts\/(\d+)$/)
    if (m) sent.push({ uploadId: m[1], n: Number(m[2]) })
  })
  return sent
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
    srv.on('error', reject)
  })
}

/** A second api process on its own port (the stack's is in testenv's process and cannot be killed). */
function startApi(port) {
  const proc = spawn(SERVER, ['api'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, METRICS_ADDR: '', DEV_MAIL_SINK: '', LISTEN_ADDR: `127.0.0.1:${port}`, PUBLIC_URL: `http://127.0.0.1:${port}`, WEB_DIR: path.join(ROOT, 'web', 'dist') },
  })
  let log = ''
  proc.stdout.on('data', (c) => (log = (log + c).slice(-4000)))
  proc.stderr.on('data', (c) => (log = (log + c).slice(-4000)))
  proc.log = () => log
  return proc
}

async function waitUp(url) {
  await eventually(
    async () => {
      try {
        return (await fetch(`${url}/login`)).ok
      } catch {
        return false
      }
    },
    { timeoutMs: 60_000, what: `the api at ${url}` },
  )
}

function startAgent(bootstrapToken, stateDir) {
  agent = spawn(
    AGENT,
    ['--gpu-source=simulated', '--sim-gpus=1', '--url', BASE_URL, '--machine-id', machineId, '--bootstrap-token', bootstrapToken, '--state-dir', stateDir, '--host-ops=simulated', '--interval', '1s'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: process.env },
  )
  const keep = (chunk) => (agentLog = (agentLog + chunk).slice(-6000))
  agent.stdout.on('data', keep)
  agent.stderr.on('data', keep)
}

before(async () => {
  for (const bin of [SERVER, AGENT]) if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`make build\` at the repository root`)
  browser = await launch()
  admin = await apiToken(DEMO.admin)
  acme = await createCustomer(admin, `a${id}`)
  other = await createCustomer(admin, `b${id}`)
  other.code = (await api('GET', `/api/admin/customers/${other.id}`, { token: admin })).data?.code
  owner = await apiToken(acme.owner)

  work = mkdtempSync(path.join(tmpdir(), 'rgpu-e2e-ds-'))
  folder = path.join(work, 'pets')
  mkdirSync(path.join(folder, 'cats'), { recursive: true })
  writeFileSync(path.join(folder, 'cats', 'tom.txt'), `tom ${id}\n`)
  writeFileSync(path.join(folder, 'readme.md'), `# pets ${id}\n`)
  writeFileSync(path.join(folder, 'big.bin'), randomBytes(6 * MiB)) // two chunks
  mkdirSync(path.join(work, 'zipsrc', 'dogs'), { recursive: true })
  writeFileSync(path.join(work, 'zipsrc', 'dogs', 'rex.txt'), `rex ${id}\n`)
  execFileSync('zip', ['-qr', path.join(folder, 'dogs.zip'), 'dogs'], { cwd: path.join(work, 'zipsrc') })
})

after(async () => {
  if (agent && agent.exitCode === null) {
    const exited = once(agent, 'exit')
    agent.kill('SIGTERM')
    await exited
  }
  await browser?.close()
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('datasets', () => {
  const name = `pets-${id}`
  let petsId = ''

  test('a customer uploads a folder with a zip; the zip is extracted and the files browse', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, acme.owner, '/customer/dashboard')
      await page.getByTestId('quick-upload-dataset').click()
      await page.waitForURL((url) => url.pathname === '/customer/datasets/upload')
      await page.getByTestId('ds-name').fill(name)
      await page.getByTestId('folder-input').setInputFiles(folder)
      await page.getByTestId('picked-summary').getByText('4 个文件').waitFor()
      await page.getByTestId('upload-start').click()
      await page.locator('[data-testid="uploader"][data-phase="done"]').waitFor({ timeout: 60_000 })
      await page.getByTestId('upload-status-pets/big.bin').getByText('已完成').waitFor()

      petsId = (await datasetByName(name)).id
      await eventually(async () => (await dataset(petsId))?.status === 'available', { timeoutMs: 60_000, what: 'the ingest to finish' })
      await page.getByTestId('done-detail').click()
      await page.waitForURL((url) => url.pathname === `/customer/datasets/${petsId}`)
      await page.locator('[data-testid="dataset-status"]').getByText('可用').waitFor()
      // the zip was extracted where it was: pets/dogs/rex.txt; the archive itself is not kept
      await page.locator('.el-table__body').getByTestId('file-pets').click()
      await page.locator('.el-table__body').getByTestId('file-pets/dogs').waitFor()
      await page.locator('.el-table__body').getByTestId('file-pets/dogs.zip').waitFor({ state: 'detached' })
      await page.locator('.el-table__body').getByTestId('file-pets/dogs').click()
      await page.locator('.el-table__body').getByTestId('file-pets/dogs/rex.txt').waitFor()
      const d = await dataset(petsId)
      assert.equal(d.fileCount, 4)
    })
  })

  test('the same file again completes instantly (秒传) without sending a part', async (t) => {
    await withPage(browser, t, async (page) => {
      const sent = recordParts(page)
      await login(page, acme.owner)
      await fillUploadForm(page, `again-${id}`)
      await page.getByTestId('file-input').setInputFiles(path.join(folder, 'big.bin'))
      await page.getByTestId('upload-start').click()
      await page.locator('[data-testid="uploader"][data-phase="done"]').waitFor({ timeout: 60_000 })
      await page.getByTestId('upload-status-big.bin').getByText('秒传').waitFor()
      assert.deepEqual(sent, [], 'no part is sent for an instant upload')
    })
  })

  test('an upload resumes after the api was killed and the page reloaded, without resending confirmed parts', async (t) => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const big = path.join(work, 'resume.bin')
    const fd = openSync(big, 'w')
    for (let i = 0; i < 200; i++) writeSync(fd, randomBytes(MiB))
    closeSync(fd)
    let server = startApi(port)
    try {
      await waitUp(url)
      const context = await browser.newContext({ baseURL: url, viewport: { width: 1440, height: 900 } })
      context.setDefaultTimeout(20_000)
      const page = await context.newPage()
      try {
        const before = recordParts(page)
        await login(page, acme.owner)
        await fillUploadForm(page, `resume-${id}`)
        await page.getByTestId('file-input').setInputFiles(big)
        await page.getByTestId('upload-start').click()
        await eventually(async () => before.length >= 8, { timeoutMs: 60_000, what: 'some parts to be sent' })
        server.kill('SIGKILL')
        await once(server, 'exit')
        server = startApi(port)
        await waitUp(url)

        const ds = await datasetByName(`resume-${id}`)
        const open = (await api('GET', `/api/customer/datasets/${ds.id}/uploads`, { token: owner })).data
        const confirmed = (Array.isArray(open) ? open : (open?.list ?? [])).flatMap((u) => u.confirmedParts ?? [])
        assert.ok(confirmed.length >= 1, 'the server kept the parts confirmed before it was killed')

        const afterReload = recordParts(page)
        await page.reload()
        await page.getByTestId('resume-banner').waitFor()
        const chooser = page.waitForEvent('filechooser')
        await page.getByTestId('resume-files').click()
        await (await chooser).setFiles(big)
        await page.locator('[data-testid="uploader"][data-phase="done"]').waitFor({ timeout: 180_000 })
        const resent = afterReload.map((p) => p.n).filter((n) => confirmed.includes(n))
        assert.deepEqual(resent, [], 'confirmed parts are not sent again')
        assert.equal(new Set([...confirmed, ...afterReload.map((p) => p.n)]).size, 40, 'every one of the 40 parts is stored')
      } catch (e) {
        mkdirSync(RESULTS_DIR, { recursive: true })
        await page.screenshot({ path: path.join(RESULTS_DIR, 'dataset-resume.png'), fullPage: true }).catch(() => undefined)
        throw e
      } finally {
        await context.close()
      }
    } catch (e) {
      e.message += `\napi log:\n${server.log()}`
      throw e
    } finally {
      server.kill('SIGTERM')
    }
  })

  test('the dataset is mounted on a leased machine and its files are on the host', async (t) => {
    const created = await api('POST', '/api/admin/machines', {
      token: admin,
      body: { name: machineName, region: '北京', gpuModel: 'A100 80G', gpuMemoryGb: 80, gpuCount: 1, status: 'online' },
    })
    assert.equal(created.status, 201, `creating the machine: ${created.message}`)
    machineId = created.data.machine.id
    startAgent(created.data.agentToken, mkdtempSync(path.join(work, 'agent-')))
    const leased = await api('POST', '/api/admin/allocations', {
      token: admin,
      body: { tenantId: acme.id, machineIds: [machineId], months: 1, remark: `e2e datasets ${id}` },
    })
    assert.ok(leased.status === 200 || leased.status === 201, `leasing: ${leased.status} ${leased.message}`)
    await eventually(
      async () => ((await api('GET', '/api/customer/machines/available', { token: owner })).data ?? []).some((m) => m.id === machineId && m.status === 'online'),
      { timeoutMs: 60_000, what: 'the leased machine online' },
    )
    const target = path.join(work, 'mnt', 'pets')
    await withPage(browser, t, async (page) => {
      await login(page, acme.owner)
      await page.goto(`/customer/datasets/${petsId}`)
      await page.getByTestId('detail-mount').click()
      await pickOption(page, page.getByTestId('mount-machine'), machineName)
      await page.getByTestId('mount-path').fill(target)
      await page.getByTestId('mount-submit').click()
      await page.goto('/customer/datasets/mounts')
      const row = page.locator('.el-table__body tr', { hasText: target })
      try {
        await row.getByTestId('mount-status').getByText('已挂载').waitFor({ timeout: 60_000 })
      } catch (e) {
        e.message += `\nagent log:\n${agentLog}`
        throw e
      }
    })
    assert.equal(readFileSync(path.join(target, 'pets', 'cats', 'tom.txt'), 'utf8'), `tom ${id}\n`)
    assert.equal(readFileSync(path.join(target, 'pets', 'dogs', 'rex.txt'), 'utf8'), `rex ${id}\n`)
  })

  test('a share with another company shows under 共享给我的 after an admin approved it', async (t) => {
    await withPage(browser, t, async (page) => {
      await login(page, acme.owner)
      await page.goto('/customer/datasets/list')
      await page.getByTestId(`dataset-card-${name}`).getByTestId('dataset-card-share').click()
      await page.getByTestId('share-codes').fill(other.code)
      await page.getByTestId('share-submit').click()
      await page.getByTestId('share-list').getByText('待审核').waitFor()
    })
    await withPage(browser, t, async (page) => {
      await login(page, DEMO.admin)
      await page.goto('/admin/datasets/list?tab=pending')
      const row = page.locator('[data-testid="admin-pending-table"] .el-table__body tr', { hasText: name })
      await row.getByTestId('share-approve').click()
      await row.waitFor({ state: 'detached' })
    })
    await withPage(browser, t, async (page) => {
      await login(page, other.owner)
      await page.goto('/customer/datasets/list?tab=shared')
      const card = page.getByTestId(`dataset-card-${name}`)
      await card.waitFor()
      await card.getByText('只读').waitFor()
      assert.equal(await card.getByTestId('dataset-card-delete').count(), 0)
    })
  })
})
