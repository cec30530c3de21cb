// Unfinished uploads, kept in localStorage so that after a reload (or an api
// restart) the upload page offers 继续上传: the user picks the same files
// again, they are matched by path and size, and only the missing parts go.

export interface ResumeFile {
  path: string
  size: number
  md5?: string
  archive?: boolean
  /** completed (or instant) before the page went away: not sent again */
  done?: boolean
}

export interface ResumeRecord {
  datasetId: string
  name: string
  scope: 'customer' | 'admin'
  createdAt: string
  files: ResumeFile[]
}

export const RESUME_KEY = 'remotegpu.datasetUploads'

function read(): ResumeRecord[] {
  try {
    const v = JSON.parse(localStorage.getItem(RESUME_KEY) ?? '[]') as unknown
    return Array.isArray(v) ? (v as ResumeRecord[]).filter((r) => r && typeof r.datasetId === 'string' && Array.isArray(r.files)) : []
  } catch {
    return []
  }
}

function write(list: ResumeRecord[]) {
  try {
    if (list.length) localStorage.setItem(RESUME_KEY, JSON.stringify(list))
    else localStorage.removeItem(RESUME_KEY)
  } catch {
    // storage full or off: resuming is a convenience
  }
}

export const resumeStore = {
  list(scope?: ResumeRecord['scope']): ResumeRecord[] {
    return read().filter((r) => !scope || r.scope === scope)
  },
  get(datasetId: string): ResumeRecord | undefined {
    return read().find((r) => r.datasetId === datasetId)
  },
  save(record: ResumeRecord) {
    write([...read().filter((r) => r.datasetId !== record.datasetId), record])
  },
  setMd5(datasetId: string, path: string, md5: string) {
    const list = read()
    const r = list.find((x) => x.datasetId === datasetId)
    const f = r?.files.find((x) => x.path === path)
    if (!f || f.md5 === md5) return
    f.md5 = md5
    write(list)
  },
  setDone(datasetId: string, path: string) {
    const list = read()
    const f = list.find((x) => x.datasetId === datasetId)?.files.find((x) => x.path === path)
    if (!f || f.done) return
    f.done = true
    write(list)
  },
  remove(datasetId: string) {
    write(read().filter((r) => r.datasetId !== datasetId))
  },
}

export interface PickedFile {
  file: File
  path: string
}

export interface ResumeMatch {
  matched: (PickedFile & { archive: boolean; md5?: string })[]
  /** files of the record (not done yet) the user did not pick again */
  missing: ResumeFile[]
  /** picked files that are not part of the upload (or differ in size) */
  extra: PickedFile[]
}

/**
 * Match picked files to a record by path and size. A folder picked again
 * may come with or without its top folder's name: a path that matches none
 * is tried without its first segment.
 */
export function matchResume(record: ResumeRecord, picked: PickedFile[]): ResumeMatch {
  const want = new Map(record.files.filter((f) => !f.done).map((f) => [f.path, f]))
  const used = new Set<string>()
  const matched: ResumeMatch['matched'] = []
  const extra: PickedFile[] = []
  for (const p of picked) {
    const candidates = [p.path, p.path.split('/').slice(1).join('/')]
    const hit = candidates.map((c) => want.get(c)).find((f) => f && f.size === p.file.size && !used.has(f.path))
    if (hit) {
      used.add(hit.path)
      matched.push({ file: p.file, path: hit.path, archive: !!hit.archive, md5: hit.md5 })
    } else extra.push(p)
  }
  return { matched, missing: record.files.filter((f) => !f.done && !used.has(f.path)), extra }
}
