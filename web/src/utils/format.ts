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
