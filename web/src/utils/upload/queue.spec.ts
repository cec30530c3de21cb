import { describe, expect, it } from 'vitest'
import { AxiosError, AxiosHeaders, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios'
import { md5 } from 'hash-wasm'
import { createHttp } from '@/api/core'
import { uploadApi } from '@/api/datasets'
import { CHUNK_SIZE, hashBlob, hexToBase64 } from './hash'
import { inlineHasher } from './hasher'
import { SpeedMeter, UploadSession, isArchive, partSize, type SessionInput } from './queue'

/* A fake api speaking the upload protocol over a fake network (the real HTTP core and upload calls run). */

interface FakeUpload {
  id: string
  path: string
  size: number
  md5: string
  chunkSize: number
  chunkCount: number
  parts: Map<number, Uint8Array>
  completed: boolean
}

const small = 1024 // chunk size of the fake server in most tests: keeps the blobs tiny

function fakeServer(opts: { chunkSize?: number; known?: string[]; failPut?: (n: number, count: number) => number; delay?: number } = {}) {
  const chunkSize = opts.chunkSize ?? small
  const uploads = new Map<string, FakeUpload>()
  const known = new Set(opts.known ?? [])
  const log: string[] = []
  const putCount = new Map<number, number>()
  let inflight = 0
  let maxInflight = 0
  let finished = 0
  let nextId = 1

  function respond(config: InternalAxiosRequestConfig, status: number, data: unknown) {
    const body = status < 300 ? { code: 0, message: 'ok', data, traceId: 't' } : { code: status, message: 'err', data, traceId: 't' }
    const response: AxiosResponse = { data: body, status, statusText: String(status), headers: new AxiosHeaders(), config, request: {} }
    if (status < 300) return response
    throw new AxiosError('failed', 'ERR_BAD_REQUEST', config, {}, response)
  }

  const adapter = async (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => {
    const url = config.url ?? ''
    const method = (config.method ?? 'get').toUpperCase()
    log.push(`${method} ${url}`)
    let m: RegExpMatchArray | null
    if (method === 'POST' && (m = url.match(/\/datasets\/([^/]+)\/uploads$/))) {
      const { files } = JSON.parse(config.data as string) as { files: { path: string; size: number; md5: string }[] }
      const out = files.map((f) => {
        if (known.has(`${f.md5}:${f.size}`)) return { path: f.path, uploadId: '', state: 'done', chunkSize, chunkCount: 0, confirmedParts: [] }
        let u = [...uploads.values()].find((x) => x.path === f.path && !x.completed)
        if (u && (u.md5 !== f.md5 || u.size !== f.size)) {
          uploads.delete(u.id)
          u = undefined
        }
        if (!u) {
          u = { id: `u${nextId++}`, path: f.path, size: f.size, md5: f.md5, chunkSize, chunkCount: Math.max(1, Math.ceil(f.size / chunkSize)), parts: new Map(), completed: false }
          uploads.set(u.id, u)
        }
        return { path: f.path, uploadId: u.id, state: 'open', chunkSize, chunkCount: u.chunkCount, confirmedParts: [...u.parts.keys()] }
      })
      return respond(config, 200, { files: out })
    }
    if (method === 'GET' && /\/uploads$/.test(url)) {
      return respond(config, 200, [...uploads.values()].filter((u) => !u.completed).map((u) => ({ path: u.path, uploadId: u.id, state: 'open', chunkSize, chunkCount: u.chunkCount, confirmedParts: [...u.parts.keys()] })))
    }
    if (method === 'PUT' && (m = url.match(/\/uploads\/([^/]+)\/parts\/(\d+)$/))) {
      const n = Number(m[2])
      const count = (putCount.get(n) ?? 0) + 1
      putCount.set(n, count)
      inflight++
      maxInflight = Math.max(maxInflight, inflight)
      try {
        await new Promise((r) => setTimeout(r, opts.delay ?? 2))
        if (config.signal?.aborted) throw new AxiosError('canceled', 'ERR_CANCELED', config)
        const forced = opts.failPut?.(n, count) ?? 0
        if (forced === -1) throw new AxiosError('Network Error', 'ERR_NETWORK', config)
        if (forced) return respond(config, forced, forced < 500 ? { reason: 'uploads.chunkMd5Mismatch', params: { part: n } } : null)
        const u = uploads.get(m[1])!
        const bytes = new Uint8Array(await (config.data as Blob).arrayBuffer())
        const want = hexToBase64(await md5(bytes))
        if (AxiosHeaders.from(config.headers).get('Content-MD5') !== want) return respond(config, 400, { reason: 'uploads.chunkMd5Mismatch' })
        u.parts.set(n, bytes)
        return respond(config, 200, { partNumber: n, confirmed: true })
      } finally {
        inflight--
      }
    }
    if (method === 'POST' && (m = url.match(/\/uploads\/([^/]+)\/complete$/))) {
      const u = uploads.get(m[1])!
      const missing = Array.from({ length: u.chunkCount }, (_, i) => i + 1).filter((n) => !u.parts.has(n))
      if (missing.length) return respond(config, 409, { reason: 'uploads.partsMissing', params: { missing } })
      const all = new Uint8Array(u.size)
      let off = 0
      for (let n = 1; n <= u.chunkCount; n++) {
        all.set(u.parts.get(n)!, off)
        off += u.parts.get(n)!.length
      }
      if ((await md5(all)) !== u.md5) return respond(config, 409, { reason: 'uploads.md5Mismatch' })
      u.completed = true
      return respond(config, 200, {})
    }
    if (method === 'POST' && /\/finish$/.test(url)) {
      finished++
      return respond(config, 200, { id: 'ds1', status: 'processing' })
    }
    return respond(config, 404, null)
  }

  const h = createHttp({
    tokens: { getAccess: () => 't', getRefresh: () => null, set() {}, clear() {} },
    notify() {},
    onAuthFailure() {},
    adapter,
  })
  return {
    api: uploadApi('customer', h),
    uploads,
    log,
    putCount,
    get maxInflight() {
      return maxInflight
    },
    get finished() {
      return finished
    },
    puts: () => log.filter((l) => l.startsWith('PUT')),
  }
}

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff
  return b
}
const blob = (n: number, seed = 1) => new Blob([bytes(n, seed) as BlobPart])

const smallHasher = (file: Blob, p?: (n: number) => void) => hashBlob(file, small, p)
const noSleep = () => Promise.resolve()

function session(server: ReturnType<typeof fakeServer>, inputs: SessionInput[], extra: Partial<ConstructorParameters<typeof UploadSession>[1]> = {}) {
  return new UploadSession(inputs, { datasetId: 'ds1', api: server.api, hasher: smallHasher, sleep: noSleep, ...extra })
}

describe('md5 slicing', () => {
  it('gives the whole file’s MD5 and each 5 MiB chunk’s in one pass', async () => {
    const data = bytes(CHUNK_SIZE * 2 + 123)
    const seen: number[] = []
    const r = await hashBlob(new Blob([data as BlobPart]), CHUNK_SIZE, (n) => seen.push(n))
    expect(r.md5).toBe(await md5(data))
    expect(r.chunks).toEqual([
      await md5(data.subarray(0, CHUNK_SIZE)),
      await md5(data.subarray(CHUNK_SIZE, 2 * CHUNK_SIZE)),
      await md5(data.subarray(2 * CHUNK_SIZE)),
    ])
    expect(seen).toEqual([CHUNK_SIZE, 2 * CHUNK_SIZE, data.length])
  })

  it('hashes an empty file as one empty chunk, and the inline hasher agrees', async () => {
    const r = await inlineHasher(new Blob([]))
    expect(r).toEqual({ md5: 'd41d8cd98f00b204e9800998ecf8427e', chunks: ['d41d8cd98f00b204e9800998ecf8427e'] })
  })

  it('writes Content-MD5 as base64 of the digest', () => {
    expect(hexToBase64('d41d8cd98f00b204e9800998ecf8427e')).toBe('1B2M2Y8AsgTpgAmY7PhCfg==')
  })

  it('knows parts’ sizes and archives', () => {
    expect(partSize(2500, 1024, 1)).toBe(1024)
    expect(partSize(2500, 1024, 3)).toBe(452)
    expect(isArchive('a/b.tar.gz')).toBe(true)
    expect(isArchive('x.TGZ')).toBe(true)
    expect(isArchive('x.zip')).toBe(true)
    expect(isArchive('x.gz')).toBe(false)
  })
})

describe('upload queue', () => {
  it('sends every part once with its MD5, at most 3 at a time across files, completes each file, then finishes', async () => {
    const server = fakeServer({ delay: 5 })
    const s = session(server, [
      { file: blob(small * 5 + 10, 1), path: 'a/one.bin' },
      { file: blob(small * 4, 2), path: 'a/two.bin' },
      { file: blob(10, 3), path: 'three.txt' },
    ])
    expect(await s.run()).toBe('finished')
    expect(server.puts()).toHaveLength(6 + 4 + 1)
    expect(server.maxInflight).toBeLessThanOrEqual(3)
    expect(server.maxInflight).toBe(3)
    expect([...server.uploads.values()].every((u) => u.completed)).toBe(true)
    expect(server.finished).toBe(1)
    // finish comes after every complete
    const finishAt = server.log.findIndex((l) => l.endsWith('/finish'))
    expect(server.log.slice(finishAt + 1)).toEqual([])
    expect(s.files.map((f) => f.status)).toEqual(['done', 'done', 'done'])
    expect(s.progress.sentBytes).toBe(s.progress.totalBytes)
  })

  it('declares files in batches of at most 1000', { timeout: 30_000 }, async () => {
    const server = fakeServer({ delay: 0 })
    const inputs = Array.from({ length: 1001 }, (_, i) => ({ file: blob(1, i), path: `f/${i}` }))
    expect(await session(server, inputs).run()).toBe('finished')
    expect(server.log.filter((l) => l.startsWith('POST') && l.endsWith('/uploads'))).toHaveLength(2)
  })

  it('sends nothing for an instant upload (秒传)', async () => {
    const data = blob(small * 3)
    const h = await hashBlob(data, small)
    const server = fakeServer({ known: [`${h.md5}:${data.size}`] })
    const s = session(server, [{ file: data, path: 'same.bin' }])
    expect(await s.run()).toBe('finished')
    expect(server.puts()).toEqual([])
    expect(server.log.some((l) => l.endsWith('/complete'))).toBe(false)
    expect(s.files[0].status).toBe('instant')
    expect(s.progress.instantFiles).toBe(1)
    expect(server.finished).toBe(1)
  })

  it('skips the parts the server already confirmed (a resume)', async () => {
    const server = fakeServer()
    const data = blob(small * 6)
    // a first session sends parts until it is paused
    const first = session(server, [{ file: data, path: 'big.bin' }], { parallel: 1 })
    const running = first.run()
    while (server.puts().length < 3) await new Promise((r) => setTimeout(r, 1))
    first.pause()
    expect(await running).toBe('paused')
    const confirmed = [...[...server.uploads.values()][0].parts.keys()]
    expect(confirmed.length).toBeGreaterThanOrEqual(2)

    // a reload: a new session for the same file asks again and gets the confirmed parts
    server.log.length = 0
    const second = session(server, [{ file: data, path: 'big.bin' }])
    expect(await second.run()).toBe('finished')
    const sent = server.puts().map((l) => Number(l.split('/').pop()))
    expect(sent.sort()).toEqual([1, 2, 3, 4, 5, 6].filter((n) => !confirmed.includes(n)))
    expect([...server.uploads.values()][0].completed).toBe(true)
  })

  it('goes on after a pause with the same session', async () => {
    const server = fakeServer()
    const s = session(server, [{ file: blob(small * 8), path: 'x' }], { parallel: 2 })
    const p = s.run()
    while (server.puts().length < 2) await new Promise((r) => setTimeout(r, 1))
    s.pause()
    expect(await p).toBe('paused')
    expect(await s.run()).toBe('finished')
    expect([...server.uploads.values()][0].completed).toBe(true)
  })

  it('retries network errors and 5xx with backoff', async () => {
    const server = fakeServer({ failPut: (n, count) => (n === 2 && count === 1 ? -1 : n === 3 && count < 3 ? 503 : 0) })
    const waits: number[] = []
    const s = session(server, [{ file: blob(small * 4), path: 'r.bin' }], {
      sleep: async (ms) => {
        waits.push(ms)
      },
    })
    expect(await s.run()).toBe('finished')
    expect(server.putCount.get(2)).toBe(2)
    expect(server.putCount.get(3)).toBe(3)
    expect(waits.sort((a, b) => a - b)).toEqual([500, 500, 1000])
  })

  it('shows a 4xx without retrying it and does not finish', async () => {
    const server = fakeServer({ failPut: (n) => (n === 2 ? 400 : 0) })
    const s = session(server, [
      { file: blob(small * 3, 1), path: 'bad.bin' },
      { file: blob(small, 2), path: 'good.bin' },
    ])
    expect(await s.run()).toBe('failed')
    expect(server.putCount.get(2)).toBe(1)
    expect(s.files[0].status).toBe('failed')
    expect(s.files[0].error).toMatchObject({ status: 400, code: 'uploads.chunkMd5Mismatch' })
    expect(s.files[1].status).toBe('done')
    expect(server.finished).toBe(0)
  })

  it('cancel stops everything', async () => {
    const server = fakeServer({ delay: 5 })
    const s = session(server, [{ file: blob(small * 20), path: 'c' }])
    const p = s.run()
    while (server.puts().length < 3) await new Promise((r) => setTimeout(r, 1))
    s.cancel()
    expect(await p).toBe('cancelled')
    const n = server.puts().length
    await new Promise((r) => setTimeout(r, 20))
    expect(server.puts().length).toBe(n)
    expect(server.finished).toBe(0)
  })
})

describe('speed', () => {
  it('is measured over a moving window', () => {
    const m = new SpeedMeter(2000)
    m.add(0, 0)
    m.add(1000, 1000)
    expect(m.speed).toBe(1000)
    m.add(2000, 5000)
    m.add(3000, 9000)
    // the sample at 0 s left the window: (9000-1000)/2
    expect(m.speed).toBe(4000)
  })
})
