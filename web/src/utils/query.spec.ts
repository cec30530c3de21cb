import { describe, expect, it } from 'vitest'
import { parseValue, readListQuery, sameQuery, writeListQuery, type ListDefaults } from './query'

interface F {
  [key: string]: string | boolean | number
  status: string
  keyword: string
  open: boolean
  months: number
}

const defaults: ListDefaults<F> = {
  filters: { status: '', keyword: '', open: false, months: 1 },
  pageSize: 20,
  pageSizes: [10, 20, 50],
  sortBy: 'createdAt',
  order: 'desc',
  sortKeys: ['createdAt', 'name'],
  enums: { status: ['', 'online', 'offline'] },
}

describe('parseValue', () => {
  it.each([
    [undefined, 'x', 'x'],
    ['abc', '', 'abc'],
    ['true', false, true],
    ['false', true, false],
    ['yes', false, false],
    ['12', 1, 12],
    ['', 1, 1],
    ['twelve', 1, 1],
  ] as const)('%j with default %j → %j', (raw, def, want) => {
    expect(parseValue(raw, def)).toBe(want)
  })
})

describe('readListQuery', () => {
  it('gives the defaults for an empty query', () => {
    expect(readListQuery({}, defaults)).toEqual({
      filters: { status: '', keyword: '', open: false, months: 1 },
      page: 1,
      pageSize: 20,
      sortBy: 'createdAt',
      order: 'desc',
    })
  })

  it('reads filters by the type of their default, page, size and sort', () => {
    const state = readListQuery(
      { status: 'online', keyword: 'gpu a', open: 'true', months: '6', page: '3', pageSize: '50', sortBy: 'name', order: 'asc' },
      defaults,
    )
    expect(state).toEqual({
      filters: { status: 'online', keyword: 'gpu a', open: true, months: 6 },
      page: 3,
      pageSize: 50,
      sortBy: 'name',
      order: 'asc',
    })
  })

  it('ignores what the list does not accept: unknown enum values, sizes, sort keys, bad pages', () => {
    const state = readListQuery({ status: 'exploded', pageSize: '33', sortBy: 'password', order: 'asc', page: '-2' }, defaults)
    expect(state.filters.status).toBe('')
    expect(state.pageSize).toBe(20)
    expect(state.sortBy).toBe('createdAt')
    expect(state.order).toBe('desc')
    expect(state.page).toBe(1)
  })

  it('takes the first of repeated parameters', () => {
    expect(readListQuery({ keyword: ['a', 'b'] }, defaults).filters.keyword).toBe('a')
  })

  it('sorts ascending when a known key comes without a direction', () => {
    expect(readListQuery({ sortBy: 'name' }, defaults).order).toBe('asc')
  })
})

describe('writeListQuery', () => {
  it('leaves defaults out of the URL', () => {
    expect(writeListQuery(readListQuery({}, defaults), defaults)).toEqual({})
  })

  it('writes what differs, trimming the search', () => {
    const query = writeListQuery(
      { filters: { status: 'offline', keyword: '  node-1 ', open: true, months: 1 }, page: 2, pageSize: 50, sortBy: 'name', order: 'asc' },
      defaults,
    )
    expect(query).toEqual({ status: 'offline', keyword: 'node-1', open: 'true', page: '2', pageSize: '50', sortBy: 'name', order: 'asc' })
  })

  it('drops a search of spaces', () => {
    expect(writeListQuery({ ...readListQuery({}, defaults), filters: { ...defaults.filters, keyword: '   ' } }, defaults)).toEqual({})
  })

  it('round-trips through readListQuery', () => {
    const state = readListQuery({ status: 'online', keyword: 'x', open: 'true', months: '3', page: '4', sortBy: 'name', order: 'desc' }, defaults)
    expect(readListQuery(writeListQuery(state, defaults), defaults)).toEqual(state)
  })
})

describe('sameQuery', () => {
  it('ignores order, empty values and repeated parameters', () => {
    expect(sameQuery({ a: '1', b: '2' }, { b: '2', a: '1', c: '' })).toBe(true)
    expect(sameQuery({ a: ['1', '9'] }, { a: '1' })).toBe(true)
    expect(sameQuery({ a: '1' }, { a: '2' })).toBe(false)
    expect(sameQuery({ a: '1' }, {})).toBe(false)
  })
})
