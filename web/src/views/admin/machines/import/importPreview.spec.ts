import { afterEach, describe, expect, it } from 'vitest'
import { ApiError } from '@/api/core'
import type { ImportRow } from '@/api/types'
import { i18n } from '@/locales'
import {
  checkFile,
  fileProblem,
  filterPreview,
  filterResults,
  IMPORT_COLUMNS,
  mapRowErrors,
  progressPercent,
  rowReason,
  rowResult,
} from './importPreview'

afterEach(() => {
  i18n.global.locale.value = 'zh-CN'
})

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
  const formulas = () =>
    new ApiError({
      status: 400,
      message: 'formulas are not accepted; paste these cells as values: E5, F9',
      data: {
        reason: 'machines.import.formulas',
        params: { kind: 'formulas', list: 'E5, F9', cells: ['E5', 'F9'], columns: null },
        errors: [{ location: 'body.file', message: 'formulas are not accepted; paste these cells as values: E5, F9', reason: 'machines.import.formulas' }],
      },
    })

  it('reads the kind, the message by its code and the cells, in either language', () => {
    expect(fileProblem(formulas())).toEqual({
      reason: 'formulas',
      message: '不支持公式，请将这些单元格改为数值（复制后“选择性粘贴为数值”）：E5, F9',
      where: ['E5', 'F9'],
    })
    i18n.global.locale.value = 'en'
    expect(fileProblem(formulas())?.message).toBe('formulas are not accepted; paste these cells as values: E5, F9')
  })

  it('names missing columns', () => {
    const err = new ApiError({
      status: 400,
      message: 'missing',
      data: { reason: 'machines.import.missingColumns', params: { kind: 'missing_columns', list: 'GPU型号, 显存(GB)', row: 1, columns: ['GPU型号', '显存(GB)'] } },
    })
    expect(fileProblem(err)).toEqual({
      reason: 'missing_columns',
      message: '缺少必填列：GPU型号, 显存(GB)（表头在第 1 行；请使用导入模板）',
      where: ['GPU型号', '显存(GB)'],
    })
  })

  it('takes a 413 as too large', () => {
    const err = new ApiError({ status: 413, message: 'the file is larger than 10 MB', data: { reason: 'machines.import.tooLarge', params: { kind: 'too_large', mb: 10 } } })
    expect(fileProblem(err)).toEqual({ reason: 'too_large', message: '文件超过 10 MB', where: [] })
    expect(fileProblem(new ApiError({ status: 413, message: 'too big' }))?.reason).toBe('too_large')
  })

  it('leaves other errors to the HTTP layer', () => {
    expect(fileProblem(new ApiError({ status: 500, message: 'boom' }))).toBeNull()
  })
})

describe('cell errors by code', () => {
  it('translates coded errors and keeps the text of older ones', () => {
    const e = mapRowErrors([
      { field: 'gpuCount', code: 'machines.field.gpuCount', message: 'GPU count is required, 1–64', cell: 'F7' },
      { field: 'region', code: 'machines.field.region', params: { region: '火星' }, message: 'unknown region', cell: 'B7' },
      { field: 'cpuCores', message: '须在 0–4096 之间 / must be 0–4096', cell: 'J7' },
    ])
    expect(e.cells).toEqual({ gpuCount: 'F7: GPU 数量必填，1–64', region: 'B7: 未知地区 "火星"', cpuCores: 'J7: 须在 0–4096 之间 / must be 0–4096' })
    i18n.global.locale.value = 'en'
    expect(mapRowErrors([{ field: 'region', code: 'machines.field.region', params: { region: '火星' }, message: 'unknown region', cell: 'B7' }]).cells.region).toBe(
      'B7: unknown region',
    )
  })

  it('says why a finished row was skipped', () => {
    const dup = row(5, 'duplicate', {
      result: 'skipped',
      reason: 'duplicate: same name as row 3; the row will be skipped',
      errors: [{ field: 'name', code: 'machines.import.sameNameAsRow', params: { row: 3 }, message: 'same name as row 3; the row will be skipped', cell: 'A5' }],
    })
    expect(rowReason(dup)).toBe('A5: 与第 3 行重名，将跳过')
    expect(rowReason(row(6, 'valid', { result: 'skipped', reason: 'duplicate: a machine with this name exists' }))).toBe('同名机器已存在，将跳过')
    expect(rowReason(row(7, 'valid', { result: 'created' }))).toBe('')
    i18n.global.locale.value = 'en'
    expect(rowReason(dup)).toBe('A5: same name as row 3; the row will be skipped')
  })
})
