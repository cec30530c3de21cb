import dayjs from 'dayjs'

/** An RFC 3339 time as local `YYYY-MM-DD HH:mm:ss`; '—' when empty. */
export function formatTime(value: string | null | undefined, pattern = 'YYYY-MM-DD HH:mm:ss'): string {
  if (!value) return '—'
  const d = dayjs(value)
  return d.isValid() ? d.format(pattern) : value
}

/** A short form of a UUID for narrow columns. */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id
}

/** `8 × RTX 4090 · 24 GB` */
export function gpuText(m: { gpuModel: string; gpuCount: number; gpuMemoryGb: number }): string {
  return `${m.gpuCount} × ${m.gpuModel} · ${m.gpuMemoryGb} GB`
}

/** A size in GB, as TB from 1024 GB up; '—' when unknown (0). */
export function sizeGb(gb: number | null | undefined): string {
  if (!gb) return '—'
  return gb >= 1024 && gb % 1024 === 0 ? `${gb / 1024} TB` : `${gb} GB`
}

/** `host:port` */
export function hostPort(host: string, port: number): string {
  return `${host}:${port || 22}`
}

/** Parts joined with ` · `, the empty ones left out; '—' when none is left. */
export function joinParts(...parts: (string | number | null | undefined | false)[]): string {
  return parts.filter((p) => p !== null && p !== undefined && p !== false && p !== '' && p !== 0).join(' · ') || '—'
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** A byte count as `1.5 GiB` (binary units, up to 3 significant digits); '—' when not a number. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—'
  const neg = bytes < 0
  let v = Math.abs(bytes)
  let u = 0
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024
    u++
  }
  const text = u === 0 ? String(v) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
  return `${neg ? '-' : ''}${text.replace(/\.0+$|(\.\d*[1-9])0+$/, '$1')} ${UNITS[u]}`
}

/** Seconds as `1:02:03` / `2:03`; '—' when unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—'
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const r = s % 60
  const pad = (n: number) => String(n).padStart(2, '0')
  return h ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`
}
