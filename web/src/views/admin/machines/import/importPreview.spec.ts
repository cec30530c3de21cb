import { describe, expect, it } from 'vitest'
import { ApiError } from '@/api/core'
import type { ImportRow } from '@/api/types'
import {
  checkFile,
  fileProblem,
  filterPreview,
  filterResults,
  IMPORT_COLUMNS,
  mapRowErrors,
  progressPercent,
  rowResult,
} from './importPreview'

const row = (n: number, status: ImportRow['status'], extra: Partial<ImportRow> = {}): ImportRow => ({
  row: n,
  name: `m-${n}`,
  values: { name: `m-${n}` },
  generated: [],
  status,
  errors: [],
  result: 'pending',
  reason: '',
  ...extra,
})

describe('mapRowErrors', () => {
  it('places errors at their columns with the cell, several joined', () => {
    const e = mapRowErrors([
      { field: 'gpuCount', message: 'GPU 数量必填，1–64', cell: 'F7' },
      { field: 'region', message: '未知地区 "火星"', cell: 'B7' },
      { field: 'gpuCount', message: 'must be an integer' },
    ])
    expect(e.cells.gpuCount).toBe('F7: GPU 数量必填，1–64; must be an integer')
    expect(e.cells.region).toBe('B7: 未知地区 "火星"')
    expect(e.row).toEqual([])
  })

  it('keeps errors without a known column for the row', () => {
    const e = mapRowErrors([
      { field: '', message: '与第 3 行重名' },
      { field: 'row', message: 'empty row' },
      { field: 'colour', message: 'unknown', cell: 'Z9' },
    ])
    expect(e.cells).toEqual({})
    expect(e.row).toEqual(['与第 3 行重名', 'empty row', 'Z9: unknown'])
  })

  it('takes no errors as none', () => {
    expect(mapRowErrors(null)).toEqual({ cells: {}, row: [] })
  })

  it('knows every column of the template', () => {
    expect(IMPORT_COLUMNS.map((c) => c.field)).toEqual([
      'name', 'region', 'room', 'gpuModel', 'gpuMemoryGb', 'gpuCount', 'cudaVersion', 'driverVersion', 'cpuModel',
      'cpuCores', 'memoryGb', 'diskGb', 'internalIp', 'sshHost', 'sshPort', 'containerDomainPrefix', 'sshUser', 'sshPassword',
    ])
  })
})

describe('row filters', () => {
  const rows = [row(2, 'valid'), row(3, 'invalid'), row(4, 'duplicate'), row(5, 'valid')]

  it('filters the preview by verdict', () => {
    expect(filterPreview(rows, 'all')).toHaveLength(4)
    expect(filterPreview(rows, 'invalid').map((r) => r.row)).toEqual([3])
    expect(filterPreview(rows, 'valid').map((r) => r.row)).toEqual([2, 5])
  })

  it('gives rows never sent to the workflow their preview verdict as result', () => {
    expect(rowResult(row(3, 'invalid'))).toBe('invalid')
    expect(rowResult(row(4, 'duplicate'))).toBe('skipped')
    expect(rowResult(row(2, 'valid'))).toBe('pending')
    expect(rowResult(row(2, 'valid', { result: 'created' }))).toBe('created')
    expect(rowResult(row(2, 'valid', { result: 'skipped', reason: 'name taken meanwhile' }))).toBe('skipped')
  })

  it('filters the result by outcome', () => {
    const done = [row(2, 'valid', { result: 'created' }), row(3, 'invalid'), row(4, 'duplicate'), row(5, 'valid', { result: 'skipped' })]
    expect(filterResults(done, 'created').map((r) => r.row)).toEqual([2])
    expect(filterResults(done, 'skipped').map((r) => r.row)).toEqual([4, 5])
    expect(filterResults(done, 'invalid').map((r) => r.row)).toEqual([3])
  })
})

describe('progressPercent', () => {
  it.each([
    [0, 0, 0],
    [0, 20, 0],
    [5, 20, 25],
    [20, 20, 100],
    [1, 3, 33],
    [30, 20, 100],
  ])('%i of %i → %i%%', (processed, total, want) => {
    expect(progressPercent({ processed, total })).toBe(want)
  })
})

describe('checkFile', () => {
  const xlsx = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
  it.each([
    [{ name: 'machines.xlsx', size: 5000, type: xlsx }, null],
    [{ name: 'MACHINES.XLSX', size: 5000, type: '' }, null],
    [{ name: 'machines.xls', size: 5000, type: 'application/vnd.ms-excel' }, 'import.notXlsx'],
    [{ name: 'machines.csv', size: 5000, type: 'text/csv' }, 'import.notXlsx'],
    [{ name: 'fake.xlsx', size: 5000, type: 'text/plain' }, 'import.notXlsx'],
    [{ name: 'big.xlsx', size: 10 * 1024 * 1024 + 1, type: xlsx }, 'import.tooLarge'],
    [{ name: 'empty.xlsx', size: 0, type: xlsx }, 'import.emptyFile'],
  ])('%j → %s', (file, want) => {
    expect(checkFile(file)).toBe(want)
  })
})

describe('fileProblem', () => {
  it('reads the reason and the cells of a 422', () => {
    const err = new ApiError({
      status: 422,
      message: '表格中包含公式 / formulas are not allowed',
      data: { reason: 'formulas', cells: ['E5', 'F9'], errors: [{ location: 'body.file', message: '表格中包含公式 / formulas are not allowed' }] },
    })
    expect(fileProblem(err)).toEqual({ reason: 'formulas', message: '表格中包含公式 / formulas are not allowed', where: ['E5', 'F9'] })
  })

  it('names missing columns', () => {
    const err = new ApiError({ status: 422, message: 'missing', data: { reason: 'missing_columns', columns: ['GPU型号', '显存(GB)'] } })
    expect(fileProblem(err)?.where).toEqual(['GPU型号', '显存(GB)'])
  })

  it('takes a 413 as too large', () => {
    expect(fileProblem(new ApiError({ status: 413, message: 'too big' }))?.reason).toBe('too_large')
  })

  it('leaves other errors to the HTTP layer', () => {
    expect(fileProblem(new ApiError({ status: 500, message: 'boom' }))).toBeNull()
  })
})
