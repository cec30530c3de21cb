// The upload queue (docs/datasets.md "Upload", requirements 4.3.1): hash
// each file in the worker, declare the files in batches of ≤ 1000, take the
// instant uploads (秒传) as done, send the parts the server has not
// confirmed — at most 3 at once across the whole upload — each with its
// Content-MD5, complete each file, then finish the dataset. Network errors
// and 5xx are retried with backoff; a 4xx fails the file and is shown.
import { isApiError } from '@/api/http'
import type { UploadApi, UploadFileSpec, UploadFileState } from '@/api/datasets'
import { CHUNK_SIZE, hexToBase64 } from './hash'
import type { Hasher } from './hasher'

export const MAX_PARALLEL_PARTS = 3
export const INIT_BATCH = 1000
/** attempts of one request before the file (or the upload) is given up */
export const MAX_ATTEMPTS = 6

export type FileStatus = 'waiting' | 'hashing' | 'uploading' | 'completing' | 'done' | 'instant' | 'failed'

/** An error as the page shows it: a code (translated) or a message. */
export interface UploadError {
  code: string
  params: Record<string, unknown>
  message: string
  status: number
}

export interface QueueFile {
  file: Blob
  path: string
  size: number
  archive: boolean
  status: FileStatus
  hashed: number
  /** bytes confirmed by the server plus those of parts in flight */
  sent: number
  md5: string
  chunks: string[]
  uploadId: string
  chunkSize: number
  chunkCount: number
  confirmed: number[]
  error: UploadError | null
}

export type SessionState = 'idle' | 'running' | 'paused' | 'cancelled' | 'failed' | 'finished'

export interface SessionProgress {
  totalBytes: number
  sentBytes: number
  hashedBytes: number
  /** bytes a second over the last few seconds */
  speed: number
  /** seconds left at that speed; null while unknown */
  eta: number | null
  doneFiles: number
  instantFiles: number
  failedFiles: number
}

export interface SessionOptions {
  datasetId: string
  api: UploadApi
  hasher: Hasher
  /** Vue's reactive() so that the page follows the state; identity by default */
  wrap?: <T extends object>(v: T) => T
  /** a file's MD5 is known (the resume record keeps it) */
  onHashed?: (path: string, md5: string) => void
  /** a file is stored (completed or instant) */
  onFileDone?: (path: string) => void
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
  now?: () => number
  /** speed window (ms) */
  window?: number
  parallel?: number
}

export interface SessionInput {
  file: Blob
  path: string
  archive?: boolean
  /** a known MD5 (from the resume record), checked again by hashing anyway */
  md5?: string
}

class Stopped extends Error {
  constructor() {
    super('stopped')
  }
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new Stopped())
    const t = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => {
      clearTimeout(t)
      reject(new Stopped())
    })
  })

/** Exponential backoff: 0.5 s, 1 s, 2 s … up to 8 s. */
export const backoff = (attempt: number) => Math.min(8000, 500 * 2 ** (attempt - 1))

/** A request error worth another try: no answer, or the server's fault. */
export function retriable(e: unknown): boolean {
  if (isApiError(e)) return e.status === 0 || e.status >= 500 || e.status === 408 || e.status === 429
  return true
}

export function toUploadError(e: unknown): UploadError {
  if (isApiError(e)) return { code: e.reason, params: e.params, message: e.message, status: e.status }
  return { code: '', params: {}, message: e instanceof Error ? e.message : String(e), status: 0 }
}

const ARCHIVE = /\.(zip|tar|tar\.gz|tgz)$/i
/** Archives the server can extract (自动解压). */
export const isArchive = (path: string) => ARCHIVE.test(path)

/** Bytes of part n (1-based) of a file of `size` in chunks of `chunkSize`. */
export function partSize(size: number, chunkSize: number, n: number): number {
  return Math.max(0, Math.min(chunkSize, size - (n - 1) * chunkSize))
}

/** The part numbers of a 409 uploads.partsMissing: a list, or "3,4,…" (the rest cut off: all are sent again). */
export function missingParts(v: unknown): number[] {
  if (Array.isArray(v)) return v.filter((n): n is number => typeof n === 'number')
  if (typeof v !== 'string') return []
  return v
    .split(',')
    .map((x) => Number(x.trim()))
    .filter((n) => Number.isInteger(n) && n > 0)
}

/** Moving-window speed: bytes a second between the oldest and newest sample of the window. */
export class SpeedMeter {
  private samples: { t: number; bytes: number }[] = []
  constructor(private windowMs = 5000) {}
  add(t: number, bytes: number) {
    this.samples.push({ t, bytes })
    while (this.samples.length > 2 && t - this.samples[0].t > this.windowMs) this.samples.shift()
  }
  reset() {
    this.samples = []
  }
  get speed(): number {
    if (this.samples.length < 2) return 0
    const a = this.samples[0]
    const b = this.samples[this.samples.length - 1]
    const dt = (b.t - a.t) / 1000
    return dt > 0 ? Math.max(0, (b.bytes - a.bytes) / dt) : 0
  }
}

type Job = { kind: 'part'; file: QueueFile; n: number } | { kind: 'complete'; file: QueueFile }

export class UploadSession {
  readonly datasetId: string
  readonly files: QueueFile[]
  readonly progress: SessionProgress
  state: SessionState = 'idle'
  /** why the whole upload stopped (init refused, finish refused) */
  error: UploadError | null = null

  private opts: Required<Omit<SessionOptions, 'onHashed' | 'onFileDone' | 'wrap'>> & Pick<SessionOptions, 'onHashed' | 'onFileDone'>
  private jobs: Job[] = []
  private inflight = new Map<string, AbortController>()
  private waiters: (() => void)[] = []
  private declaring = false
  private stop = new AbortController()
  private meter: SpeedMeter
  private ticker: ReturnType<typeof setInterval> | null = null
  /** the most parts in flight at once (tests read it) */
  maxParallel = 0

  constructor(inputs: SessionInput[], opts: SessionOptions) {
    const wrap = opts.wrap ?? (<T extends object>(v: T) => v)
    this.datasetId = opts.datasetId
    this.opts = {
      datasetId: opts.datasetId,
      api: opts.api,
      hasher: opts.hasher,
      onHashed: opts.onHashed,
      onFileDone: opts.onFileDone,
      sleep: opts.sleep ?? defaultSleep,
      now: opts.now ?? (() => Date.now()),
      window: opts.window ?? 5000,
      parallel: opts.parallel ?? MAX_PARALLEL_PARTS,
    }
    this.meter = new SpeedMeter(this.opts.window)
    this.files = wrap(
      inputs.map(
        (i): QueueFile => ({
          file: i.file,
          path: i.path,
          size: i.file.size,
          archive: !!i.archive,
          status: 'waiting',
          hashed: 0,
          sent: 0,
          md5: '',
          chunks: [],
          uploadId: '',
          chunkSize: CHUNK_SIZE,
          chunkCount: 0,
          confirmed: [],
          error: null,
        }),
      ),
    )
    this.progress = wrap({
      totalBytes: inputs.reduce((s, i) => s + i.file.size, 0),
      sentBytes: 0,
      hashedBytes: 0,
      speed: 0,
      eta: null,
      doneFiles: 0,
      instantFiles: 0,
      failedFiles: 0,
    })
  }

  /** Run (or go on after a pause) until finished, paused, cancelled or failed. */
  async run(): Promise<SessionState> {
    if (this.state === 'running' || this.state === 'finished' || this.state === 'cancelled') return this.state
    this.state = 'running'
    this.error = null
    this.stop = new AbortController()
    this.meter.reset()
    this.startTicker()
    try {
      // parts of files declared before a pause go first
      this.jobs = []
      for (const f of this.files) if (f.uploadId && (f.status === 'uploading' || f.status === 'completing')) this.enqueueRemaining(f)
      this.declaring = true
      const workers = Array.from({ length: this.opts.parallel }, () => this.worker())
      let declareError: unknown = null
      try {
        await this.declareAll()
      } catch (e) {
        declareError = e
      } finally {
        this.declaring = false
        this.wake()
      }
      if (declareError && !(declareError instanceof Stopped)) {
        this.error = toUploadError(declareError)
        this.stop.abort()
      }
      await Promise.all(workers)
      if (this.stopped) return this.state
      if (this.error) return this.end('failed')
      if (this.files.some((f) => f.status === 'failed')) return this.end('failed')
      await this.withRetry(() => this.opts.api.finish(this.datasetId))
      return this.end('finished')
    } catch (e) {
      if (e instanceof Stopped || this.stopped) return this.state
      this.error = toUploadError(e)
      return this.end('failed')
    } finally {
      this.stopTicker()
      this.refresh()
    }
  }

  /** Stop sending; run() again goes on where it stopped (parts in flight are sent again). */
  pause() {
    if (this.state !== 'running') return
    this.state = 'paused'
    this.halt()
  }

  /** Stop for good. */
  cancel() {
    const wasRunning = this.state === 'running'
    this.state = 'cancelled'
    if (wasRunning) this.halt()
  }

  /** Try the failed files again (4xx that the user may have fixed, like the quota). */
  retryFailed() {
    for (const f of this.files)
      if (f.status === 'failed') {
        f.status = f.uploadId ? 'uploading' : 'waiting'
        f.error = null
      }
    if (this.state === 'failed') this.state = 'idle'
    this.error = null
  }

  private get stopped() {
    return this.state === 'paused' || this.state === 'cancelled'
  }

  private end(state: SessionState): SessionState {
    this.state = state
    return state
  }

  private halt() {
    this.stop.abort()
    for (const c of this.inflight.values()) c.abort()
    this.wake()
  }

  /** Hash and declare the files not yet declared, INIT_BATCH at a time. */
  private async declareAll() {
    const todo = this.files.filter((f) => !f.uploadId && (f.status === 'waiting' || f.status === 'hashing'))
    for (let i = 0; i < todo.length; i += INIT_BATCH) {
      const batch = todo.slice(i, i + INIT_BATCH)
      for (const f of batch) {
        if (this.stopped) throw new Stopped()
        if (!f.chunks.length) {
          f.status = 'hashing'
          const r = await this.opts.hasher(f.file, (n) => (f.hashed = n), this.stop.signal).catch((e) => {
            if (this.stopped) throw new Stopped()
            throw e
          })
          f.md5 = r.md5
          f.chunks = r.chunks
          f.hashed = f.size
          this.opts.onHashed?.(f.path, f.md5)
          this.refresh()
        }
      }
      const specs: UploadFileSpec[] = batch.map((f) => ({ path: f.path, size: f.size, md5: f.md5, archive: f.archive }))
      let states: UploadFileState[]
      try {
        states = await this.withRetry(() => this.opts.api.init(this.datasetId, specs))
      } catch (e) {
        if (e instanceof Stopped) throw e
        const err = toUploadError(e)
        for (const f of batch) this.fail(f, err)
        throw e
      }
      const byPath = new Map(states.map((s) => [s.path, s]))
      for (const f of batch) {
        const s = byPath.get(f.path)
        if (!s) {
          this.fail(f, { code: '', params: {}, message: 'the server did not declare this file', status: 0 })
          continue
        }
        this.apply(f, s)
      }
      this.wake()
    }
  }

  /** The server's answer about a file: instant, or the parts it still needs. */
  private apply(f: QueueFile, s: UploadFileState) {
    f.uploadId = s.uploadId
    if (s.state === 'done') {
      f.status = 'instant'
      f.sent = f.size
      this.opts.onFileDone?.(f.path)
      this.refresh()
      return
    }
    f.chunkSize = s.chunkSize || CHUNK_SIZE
    f.chunkCount = s.chunkCount ?? Math.max(1, Math.ceil(f.size / f.chunkSize))
    f.confirmed = [...(s.confirmedParts ?? [])]
    f.status = 'uploading'
    f.sent = this.confirmedBytes(f)
    this.enqueueRemaining(f)
  }

  private confirmedBytes(f: QueueFile) {
    return f.confirmed.reduce((s, n) => s + partSize(f.size, f.chunkSize, n), 0)
  }

  private enqueueRemaining(f: QueueFile) {
    f.sent = this.confirmedBytes(f)
    const have = new Set(f.confirmed)
    let missing = 0
    for (let n = 1; n <= f.chunkCount; n++)
      if (!have.has(n)) {
        this.jobs.push({ kind: 'part', file: f, n })
        missing++
      }
    if (!missing) this.jobs.push({ kind: 'complete', file: f })
    this.wake()
  }

  private wake() {
    const w = this.waiters
    this.waiters = []
    for (const r of w) r()
  }

  private next(): Promise<Job | null> {
    return new Promise((resolve) => {
      const take = () => {
        if (this.stopped || this.error) return resolve(null)
        const job = this.jobs.shift()
        if (job) return resolve(job)
        if (!this.declaring) return resolve(null)
        this.waiters.push(take)
      }
      take()
    })
  }

  private async worker() {
    for (;;) {
      const job = await this.next()
      if (!job) return
      if (job.file.status === 'failed') continue
      try {
        if (job.kind === 'part') await this.sendPart(job.file, job.n)
        else await this.complete(job.file)
      } catch (e) {
        if (e instanceof Stopped || this.stopped) return
        this.fail(job.file, toUploadError(e))
      }
    }
  }

  private async sendPart(f: QueueFile, n: number) {
    const start = (n - 1) * f.chunkSize
    const size = partSize(f.size, f.chunkSize, n)
    const md5 = f.chunks[n - 1]
    if (!md5) throw new Error(`chunk ${n} was not hashed with the server's chunk size`)
    const key = `${f.uploadId}:${n}`
    await this.withRetry(async () => {
      const ctl = new AbortController()
      this.inflight.set(key, ctl)
      this.maxParallel = Math.max(this.maxParallel, this.inflight.size)
      let loaded = 0
      try {
        await this.opts.api.putPart(this.datasetId, f.uploadId, n, f.file.slice(start, start + size), hexToBase64(md5), ctl.signal, (l) => {
          const d = Math.min(l, size) - loaded
          loaded += d
          f.sent += d
        })
      } catch (e) {
        f.sent -= loaded
        if (this.stopped) throw new Stopped()
        throw e
      } finally {
        this.inflight.delete(key)
      }
      f.sent += size - loaded
    })
    if (!f.confirmed.includes(n)) f.confirmed.push(n)
    this.refresh()
    if (f.confirmed.length >= f.chunkCount && f.status === 'uploading') this.jobs.unshift({ kind: 'complete', file: f })
    this.wake()
  }

  private async complete(f: QueueFile) {
    f.status = 'completing'
    try {
      await this.withRetry(() => this.opts.api.complete(this.datasetId, f.uploadId))
    } catch (e) {
      // 409 with the missing parts: send them again
      const missing = isApiError(e) && e.status === 409 ? missingParts(e.params.parts ?? e.params.missing) : []
      if (missing.length) {
        f.confirmed = f.confirmed.filter((n) => !missing.includes(n))
        f.status = 'uploading'
        this.enqueueRemaining(f)
        return
      }
      throw e
    }
    f.status = 'done'
    f.sent = f.size
    this.opts.onFileDone?.(f.path)
    this.refresh()
  }

  private fail(f: QueueFile, err: UploadError) {
    f.status = 'failed'
    f.error = err
    this.jobs = this.jobs.filter((j) => j.file !== f)
    this.refresh()
  }

  /** Call until it answers or fails in a way another try cannot fix. */
  private async withRetry<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.stopped) throw new Stopped()
      try {
        return await call()
      } catch (e) {
        if (this.stopped) throw new Stopped()
        if (!retriable(e) || attempt >= MAX_ATTEMPTS) throw e
        await this.opts.sleep(backoff(attempt), this.stop.signal)
      }
    }
  }

  private startTicker() {
    this.stopTicker()
    this.ticker = setInterval(() => this.refresh(), 500)
  }

  private stopTicker() {
    if (this.ticker) clearInterval(this.ticker)
    this.ticker = null
  }

  /** Recompute the totals, the speed and the time left. */
  refresh() {
    const p = this.progress
    let sent = 0
    let hashed = 0
    let done = 0
    let instant = 0
    let failed = 0
    let remaining = 0
    for (const f of this.files) {
      sent += f.sent
      hashed += f.hashed
      if (f.status === 'done') done++
      else if (f.status === 'instant') instant++
      else if (f.status === 'failed') failed++
      if (f.status !== 'failed' && f.status !== 'instant' && f.status !== 'done') remaining += f.size - f.sent
    }
    p.sentBytes = sent
    p.hashedBytes = hashed
    p.doneFiles = done
    p.instantFiles = instant
    p.failedFiles = failed
    if (this.state === 'running') {
      this.meter.add(this.opts.now(), sent)
      p.speed = this.meter.speed
    } else p.speed = 0
    p.eta = p.speed > 0 ? Math.ceil(remaining / p.speed) : remaining === 0 ? 0 : null
  }
}
