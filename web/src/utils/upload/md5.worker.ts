// The hashing worker: one file at a time, progress as it goes.
import { CHUNK_SIZE, hashBlob } from './hash'

export type HashRequest = { id: number; file: Blob; chunkSize?: number } | { id: number; cancel: true }
export type HashReply =
  | { id: number; type: 'progress'; hashed: number }
  | { id: number; type: 'done'; md5: string; chunks: string[] }
  | { id: number; type: 'error'; message: string }

const cancelled = new Set<number>()

self.onmessage = async (e: MessageEvent<HashRequest>) => {
  const req = e.data
  if ('cancel' in req) {
    cancelled.add(req.id)
    return
  }
  const post = (m: HashReply) => (self as unknown as Worker).postMessage(m)
  let last = 0
  try {
    const r = await hashBlob(
      req.file,
      req.chunkSize ?? CHUNK_SIZE,
      (hashed) => {
        // at most ~10 messages a second per file is plenty for a progress bar
        const now = Date.now()
        if (now - last >= 100 || hashed === req.file.size) {
          last = now
          post({ id: req.id, type: 'progress', hashed })
        }
      },
      () => cancelled.has(req.id),
    )
    post({ id: req.id, type: 'done', md5: r.md5, chunks: r.chunks })
  } catch (err) {
    post({ id: req.id, type: 'error', message: err instanceof Error ? err.message : String(err) })
  } finally {
    cancelled.delete(req.id)
  }
}
