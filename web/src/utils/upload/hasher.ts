// The page's side of the hashing worker: a promise per file.
import { CHUNK_SIZE, hashBlob, type HashProgress, type HashResult } from './hash'
import type { HashReply } from './md5.worker'

export type Hasher = (file: Blob, onProgress?: HashProgress, signal?: AbortSignal) => Promise<HashResult>

/** Hash on the page's thread (tests, and browsers without module workers). */
export const inlineHasher: Hasher = (file, onProgress, signal) => hashBlob(file, CHUNK_SIZE, onProgress, () => !!signal?.aborted)

let worker: Worker | null = null
let nextId = 1
const pending = new Map<number, { resolve: (r: HashResult) => void; reject: (e: Error) => void; progress?: HashProgress }>()

function getWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL('./md5.worker.ts', import.meta.url), { type: 'module' })
    worker.onmessage = (e: MessageEvent<HashReply>) => {
      const m = e.data
      const p = pending.get(m.id)
      if (!p) return
      if (m.type === 'progress') p.progress?.(m.hashed)
      else {
        pending.delete(m.id)
        if (m.type === 'done') p.resolve({ md5: m.md5, chunks: m.chunks })
        else p.reject(new Error(m.message))
      }
    }
    worker.onerror = (e) => {
      for (const p of pending.values()) p.reject(new Error(e.message || 'hash worker failed'))
      pending.clear()
      worker?.terminate()
      worker = null
    }
  }
  return worker
}

/** Hash in the Web Worker (hash-wasm), keeping the page responsive. */
export const workerHasher: Hasher = (file, onProgress, signal) => {
  if (typeof Worker === 'undefined') return inlineHasher(file, onProgress, signal)
  const w = getWorker()
  const id = nextId++
  return new Promise<HashResult>((resolve, reject) => {
    pending.set(id, { resolve, reject, progress: onProgress })
    signal?.addEventListener('abort', () => {
      w.postMessage({ id, cancel: true })
      pending.delete(id)
      reject(new DOMException('aborted', 'AbortError'))
    })
    w.postMessage({ id, file, chunkSize: CHUNK_SIZE })
  })
}
