// MD5 of a file in one pass over 5 MiB slices: the whole file's digest and
// every chunk's (the chunk's is the Content-MD5 of its part), with progress.
// Runs in the Web Worker (md5.worker.ts); node runs it as it is in tests.
import { createMD5 } from 'hash-wasm'

/** 5 MiB: the upload's chunk size (docs/datasets.md). */
export const CHUNK_SIZE = 5 * 1024 * 1024

export interface HashResult {
  /** hex MD5 of the whole file */
  md5: string
  /** hex MD5 of chunk n at index n-1; a file of 0 bytes has one empty chunk */
  chunks: string[]
}

export type HashProgress = (hashedBytes: number) => void

/**
 * Hash a Blob slice by slice. Only one slice is in memory at a time, so a
 * file of any size can be hashed. `shouldStop` is asked between slices.
 */
export async function hashBlob(
  file: Blob,
  chunkSize = CHUNK_SIZE,
  onProgress?: HashProgress,
  shouldStop?: () => boolean,
): Promise<HashResult> {
  const whole = await createHasher()
  const part = await createHasher()
  whole.init()
  const chunks: string[] = []
  if (file.size === 0) {
    part.init()
    chunks.push(part.digest('hex'))
  }
  for (let start = 0; start < file.size; start += chunkSize) {
    if (shouldStop?.()) throw new HashCancelled()
    const bytes = new Uint8Array(await file.slice(start, Math.min(start + chunkSize, file.size)).arrayBuffer())
    whole.update(bytes)
    part.init()
    part.update(bytes)
    chunks.push(part.digest('hex'))
    onProgress?.(Math.min(start + chunkSize, file.size))
  }
  return { md5: whole.digest('hex'), chunks }
}

/** hash-wasm's MD5 (WebAssembly: the console's CSP allows 'wasm-unsafe-eval', not script eval). */
export function createHasher() {
  return createMD5()
}

export class HashCancelled extends Error {
  constructor() {
    super('hashing cancelled')
    this.name = 'HashCancelled'
  }
}

/** The Content-MD5 header value (base64 of the 16 bytes) of a hex MD5. */
export function hexToBase64(hex: string): string {
  let bin = ''
  for (let i = 0; i < hex.length; i += 2) bin += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16))
  return btoa(bin)
}
