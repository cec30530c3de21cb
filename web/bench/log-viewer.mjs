// How the task log viewer keeps up with a fast log: serves the built console
// (dist/, `npm run build` first), answers the task page's API calls with a
// running task, streams RATE lines a second (5000 by default) over its log
// WebSocket for SECONDS (6), and prints the frame times Chromium painted
// meanwhile and how many lines and rows the viewer holds.
//
//   node bench/log-viewer.mjs            RATE=20000 node bench/log-viewer.mjs
//
// On the project's 2-core machines, headless: 5,000 and 20,000 lines/s both
// painted ~360 frames in 6 s (p95 16.8 ms), 37 rows in the DOM, the buffer
// capped at 100,000 lines.
import http from 'node:http'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = path.dirname(fileURLToPath(import.meta.url))
const DIST = path.resolve(here, '..', 'dist')
const RATE = Number(process.env.RATE ?? 5000)
const SECONDS = Number(process.env.SECONDS ?? 6)
if (!fs.existsSync(path.join(DIST, 'index.html'))) throw new Error(`${DIST} is missing: run npm run build first`)

const server = http.createServer((req, res) => {
  let p = path.join(DIST, decodeURIComponent(new URL(req.url, 'http://x').pathname))
  if (!p.startsWith(DIST) || !fs.existsSync(p) || fs.statSync(p).isDirectory()) p = path.join(DIST, 'index.html')
  const types = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.svg': 'image/svg+xml' }
  res.writeHead(200, { 'Content-Type': types[path.extname(p)] ?? 'application/octet-stream' })
  fs.createReadStream(p).pipe(res)
})
await new Promise((r) => server.listen(0, '127.0.0.1', r))

const id = '00000000-0000-4000-8000-000000000001'
const at = new Date().toISOString()
const task = {
  id, name: 'bench', type: 'training', status: 'running', statusReason: '', statusParams: {}, machineId: id, machineName: 'gpu-1',
  tenantId: id, gpuCount: 1, gpus: [0], image: 'remotegpu/testimage:latest', attempt: 1, maxAttempts: 1, queuePosition: null,
  createdAt: at, startedAt: at, finishedAt: null, durationSeconds: 0, gpuUtil: 50, exitCode: null, anyMachine: false, workDir: '',
  scriptPath: '', command: 'train', env: [], autoRestart: false, notifyInApp: false, notifyMail: false, checkpointIntervalSeconds: 0,
  servicePort: null, attempts: [], gpuSimulated: true,
}
const answers = {
  '/api/auth/me': { id, username: 'bench', name: 'Bench', email: '', employeeId: '', phone: '', hasAvatar: false, authSource: 'local', role: 'owner' },
  [`/api/customer/tasks/${id}/details`]: task,
  [`/api/customer/tasks/${id}/logs`]: { attempt: 1, lines: [] },
  '/api/auth/ws-ticket': { ticket: 'bench', expiresIn: 30 },
}

let timer = null
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
})
try {
  const context = await browser.newContext({ baseURL: `http://127.0.0.1:${server.address().port}`, viewport: { width: 1440, height: 900 } })
  await context.addInitScript(() => {
    localStorage.setItem('remotegpu.accessToken', 'bench')
    localStorage.setItem('remotegpu.refreshToken', 'bench')
    localStorage.setItem('remotegpu.accessExpiresAt', String(Date.now() + 3_600_000))
  })
  const page = await context.newPage()
  await page.route('**/api/**', (route) => {
    const data = answers[new URL(route.request().url()).pathname] ?? { list: [], total: 0, page: 1, pageSize: 20 }
    return route.fulfill({ contentType: 'application/json', body: JSON.stringify({ code: 0, message: '', data, traceId: '' }) })
  })
  await page.routeWebSocket('**/ws/customer/tasks/**', (ws) => {
    let n = 0
    // every 10 ms, a hundredth of a second's lines
    clearInterval(timer)
    timer = setInterval(() => {
      const lines = []
      for (let i = 0; i < RATE / 100; i++) {
        n++
        lines.push({ n, t: new Date().toISOString(), s: n % 9 ? 'stdout' : 'stderr', x: `step ${n} loss ${(1 / n).toFixed(6)} lr 0.1 throughput 1024.0 samples/s` })
      }
      ws.send(JSON.stringify({ type: 'lines', attempt: 1, lines }))
    }, 10)
    ws.onClose(() => clearInterval(timer))
  })
  await page.goto(`/customer/tasks/${id}`)
  await page.getByTestId('log-viewer').waitFor()
  const stats = await page.evaluate(async (ms) => {
    const deltas = []
    let last = performance.now()
    const end = last + ms
    await new Promise((resolve) => {
      const frame = (t) => {
        deltas.push(t - last)
        last = t
        if (t < end) requestAnimationFrame(frame)
        else resolve()
      }
      requestAnimationFrame(frame)
    })
    deltas.sort((a, b) => a - b)
    const q = (p) => Math.round(deltas[Math.min(deltas.length - 1, Math.floor(deltas.length * p))] * 10) / 10
    const viewer = document.querySelector('[data-testid="log-viewer"]')
    return {
      frames: deltas.length,
      p50ms: q(0.5),
      p95ms: q(0.95),
      maxMs: q(1),
      framesOver50ms: deltas.filter((d) => d > 50).length,
      linesKept: Number(viewer.getAttribute('data-lines')),
      rowsInDom: viewer.querySelectorAll('[data-testid="log-row"]').length,
    }
  }, SECONDS * 1000)
  console.log(`${RATE} lines/s for ${SECONDS} s:`, stats)
} finally {
  clearInterval(timer)
  await browser.close()
  server.closeAllConnections()
  server.close()
}
