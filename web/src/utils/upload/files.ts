// Turning what the user picked or dropped into files with relative paths.
import type { PickedFile } from './resume'

/** Files from an <input type=file> (with webkitdirectory, they carry their relative path). */
export function fromFileList(list: FileList | File[]): PickedFile[] {
  return Array.from(list).map((file) => ({ file, path: cleanRelative(file.webkitRelativePath || file.name) }))
}

/** A relative '/'-separated path without empty, '.' or '..' segments. */
export function cleanRelative(path: string): string {
  return path
    .replace(/\\/g, '/')
    .split('/')
    .filter((s) => s && s !== '.' && s !== '..')
    .join('/')
}

// The parts of the File and Directory Entries API used here (not in every lib.dom).
interface Entry {
  isFile: boolean
  isDirectory: boolean
  name: string
  fullPath: string
}
interface FileEntry extends Entry {
  file(ok: (f: File) => void, fail: (e: unknown) => void): void
}
interface DirEntry extends Entry {
  createReader(): { readEntries(ok: (entries: Entry[]) => void, fail: (e: unknown) => void): void }
}

async function walk(entry: Entry, out: PickedFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((ok, fail) => (entry as FileEntry).file(ok, fail))
    out.push({ file, path: cleanRelative(entry.fullPath || entry.name) })
  } else if (entry.isDirectory) {
    const reader = (entry as DirEntry).createReader()
    // readEntries answers in batches (100 in Chrome) until an empty one
    for (;;) {
      const batch = await new Promise<Entry[]>((ok, fail) => reader.readEntries(ok, fail))
      if (!batch.length) break
      for (const e of batch) await walk(e, out)
    }
  }
}

/** Files and folders dropped on the page, folders walked with their relative paths. */
export async function fromDataTransfer(dt: DataTransfer): Promise<PickedFile[]> {
  const items = Array.from(dt.items ?? [])
  const entries = items
    .filter((i) => i.kind === 'file')
    .map((i) => (i as DataTransferItem & { webkitGetAsEntry?: () => Entry | null }).webkitGetAsEntry?.() ?? null)
  if (!entries.length || entries.some((e) => !e)) return fromFileList(dt.files)
  const out: PickedFile[] = []
  for (const e of entries) await walk(e as Entry, out)
  return out
}

/** Later picks replace earlier files of the same path. */
export function mergePicked(current: PickedFile[], added: PickedFile[]): PickedFile[] {
  const byPath = new Map(current.map((p) => [p.path, p]))
  for (const p of added) byPath.set(p.path, p)
  return [...byPath.values()]
}
