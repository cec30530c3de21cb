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
