// A list page's state (filters, page, sort) as URL query parameters, so that a
// reload, a shared link or the back button shows the same list. Values equal
// to their default are left out of the URL.
import type { LocationQuery, LocationQueryRaw } from 'vue-router'
import type { SortOrder } from '@/api/types'

/** A filter value kept in the URL; the default's type decides how the URL's text is read. */
export type QueryValue = string | number | boolean

export type QueryValues = Record<string, QueryValue>

export interface ListState<F extends QueryValues> {
  filters: F
  page: number
  pageSize: number
  sortBy?: string
  order?: SortOrder
}

export interface ListDefaults<F extends QueryValues> {
  filters: F
  pageSize: number
  sortBy?: string
  order?: SortOrder
  /** page sizes offered; any other pageSize in the URL is ignored */
  pageSizes?: number[]
  /** sortBy keys the list accepts; any other in the URL is ignored */
  sortKeys?: readonly string[]
  /** the values a filter may take; any other in the URL gives its default */
  enums?: { [K in keyof F]?: readonly F[K][] }
}

/** The first value of a query parameter (`?a=1&a=2` → `1`). */
function first(v: LocationQuery[string] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v
  return s === null || s === undefined ? undefined : s
}

function positiveInt(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,6}$/.test(s)) return undefined
  const n = Number(s)
  return n >= 1 ? n : undefined
}

/** Read one filter from the URL's text; anything that does not fit the default's type gives the default. */
export function parseValue<V extends QueryValue>(raw: string | undefined, def: V): V {
  if (raw === undefined) return def
  switch (typeof def) {
    case 'boolean':
      return (raw === 'true' ? true : raw === 'false' ? false : def) as V
    case 'number': {
      const n = Number(raw)
      return (raw.trim() !== '' && Number.isFinite(n) ? n : def) as V
    }
    default:
      return raw as V
  }
}

/** The list state a URL query describes, defaults filling the gaps. */
export function readListQuery<F extends QueryValues>(query: LocationQuery, defaults: ListDefaults<F>): ListState<F> {
  const filters = { ...defaults.filters }
  for (const key of Object.keys(filters) as (keyof F & string)[]) {
    const value = parseValue(first(query[key]), defaults.filters[key])
    const allowed = defaults.enums?.[key]
    filters[key] = allowed && !allowed.includes(value) ? defaults.filters[key] : value
  }
  const size = positiveInt(first(query.pageSize))
  const sortBy = first(query.sortBy)
  const order = first(query.order)
  const sortOk = !!sortBy && (!defaults.sortKeys || defaults.sortKeys.includes(sortBy))
  return {
    filters,
    page: positiveInt(first(query.page)) ?? 1,
    pageSize: size && (!defaults.pageSizes || defaults.pageSizes.includes(size)) ? size : defaults.pageSize,
    sortBy: sortOk ? sortBy : defaults.sortBy,
    order: sortOk && (order === 'asc' || order === 'desc') ? order : sortOk ? 'asc' : defaults.order,
  }
}

/** The URL query of a list state: only what differs from the defaults. */
export function writeListQuery<F extends QueryValues>(state: ListState<F>, defaults: ListDefaults<F>): Record<string, string> {
  const query: Record<string, string> = {}
  for (const [key, value] of Object.entries(state.filters)) {
    const text = typeof value === 'string' ? value.trim() : String(value)
    if (value !== defaults.filters[key] && !(typeof value === 'string' && text === '' && defaults.filters[key] === '')) {
      query[key] = text
    }
  }
  if (state.page > 1) query.page = String(state.page)
  if (state.pageSize !== defaults.pageSize) query.pageSize = String(state.pageSize)
  if (state.sortBy && (state.sortBy !== defaults.sortBy || state.order !== defaults.order)) {
    query.sortBy = state.sortBy
    query.order = state.order ?? 'asc'
  }
  return query
}

/** Two queries name the same parameters with the same (first) values. */
export function sameQuery(a: LocationQuery | LocationQueryRaw, b: LocationQuery | LocationQueryRaw): boolean {
  const norm = (q: LocationQuery | LocationQueryRaw) =>
    Object.entries(q)
      .map(([k, v]) => [k, String(Array.isArray(v) ? v[0] : (v ?? ''))] as const)
      .filter(([, v]) => v !== '')
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b))
}
