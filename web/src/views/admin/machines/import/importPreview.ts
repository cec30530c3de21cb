// Pure helpers of the import page: the workbook's columns, errors placed at
// their cells, row filters and progress. Kept apart from the component so
// that they are unit-tested on their own.
import type { ApiError } from '@/api/core'
import type { ImportCellError, ImportRow, MachineImport } from '@/api/types'
import { codeText } from '@/locales'

/** The template's columns in order (internal/machineimport/columns.go); the label is `machine.<field>`'s i18n key. */
export const IMPORT_COLUMNS = [
  { field: 'name', label: 'machine.name', width: 150, required: true },
  { field: 'region', label: 'machine.region', width: 90, required: true },
  { field: 'room', label: 'machine.room', width: 130 },
  { field: 'gpuModel', label: 'machine.gpuModel', width: 120, required: true },
  { field: 'gpuMemoryGb', label: 'machine.gpuMemoryShort', width: 90, required: true },
  { field: 'gpuCount', label: 'machine.gpuCount', width: 90, required: true },
  { field: 'cudaVersion', label: 'machine.cudaVersion', width: 90 },
  { field: 'driverVersion', label: 'machine.driverVersion', width: 110 },
  { field: 'cpuModel', label: 'machine.cpuModel', width: 170 },
  { field: 'cpuCores', label: 'machine.cpuCores', width: 80 },
  { field: 'memoryGb', label: 'machine.memoryShort', width: 90 },
  { field: 'diskGb', label: 'machine.diskShort', width: 90 },
  { field: 'internalIp', label: 'machine.internalIp', width: 120 },
  { field: 'sshHost', label: 'machine.sshHost', width: 220 },
  { field: 'sshPort', label: 'machine.sshPort', width: 80 },
  { field: 'containerDomainPrefix', label: 'machine.containerDomainPrefix', width: 130 },
  { field: 'sshUser', label: 'machine.sshUser', width: 90 },
  { field: 'sshPassword', label: 'machine.sshPassword', width: 110 },
] as const

export type ImportField = (typeof IMPORT_COLUMNS)[number]['field']
const FIELDS = new Set<string>(IMPORT_COLUMNS.map((c) => c.field))

export interface RowErrors {
  /** field → its messages joined (with the cell, e.g. "F7: …") */
  cells: Partial<Record<ImportField, string>>
  /** messages about the row as a whole (no column, or a column the table does not show) */
  row: string[]
}

/** A cell's problem in the console's language (the stored text for imports made before codes). */
export const cellText = (e: ImportCellError): string => codeText(e.code, e.params as Record<string, unknown> | undefined, e.message)

const withCell = (e: ImportCellError) => (e.cell ? `${e.cell}: ${cellText(e)}` : cellText(e))

/**
 * Why a finished row was skipped or is invalid: its cells' problems, or for
 * a valid row skipped at import time the name taken meanwhile; the stored
 * reason for rows of imports made before codes.
 */
export function rowReason(r: ImportRow): string {
  const coded = (r.errors ?? []).filter((e) => e.code)
  if (coded.length) return coded.map(withCell).join('; ')
  if (r.status === 'valid' && r.result === 'skipped') return codeText('machines.import.nameExists', null, r.reason)
  return r.reason || (r.errors ?? []).map(withCell).join('; ')
}

/** Place a row's errors at their cells; the rest belong to the row. */
export function mapRowErrors(errors: ImportCellError[] | null | undefined): RowErrors {
  const out: RowErrors = { cells: {}, row: [] }
  for (const e of errors ?? []) {
    if (e.field && FIELDS.has(e.field)) {
      const f = e.field as ImportField
      out.cells[f] = out.cells[f] ? `${out.cells[f]}; ${withCell(e)}` : withCell(e)
    } else {
      out.row.push(withCell(e))
    }
  }
  return out
}

export type PreviewFilter = 'all' | 'valid' | 'invalid' | 'duplicate'
export type ResultFilter = 'all' | 'created' | 'skipped' | 'invalid'

export function filterPreview(rows: ImportRow[], filter: PreviewFilter): ImportRow[] {
  return filter === 'all' ? rows : rows.filter((r) => r.status === filter)
}

/** The result a finished row has: the workflow's, or for rows never sent the preview's verdict. */
export function rowResult(r: ImportRow): 'pending' | 'created' | 'skipped' | 'invalid' {
  if (r.result && r.result !== 'pending') return r.result
  if (r.status === 'invalid') return 'invalid'
  if (r.status === 'duplicate') return 'skipped'
  return 'pending'
}

export function filterResults(rows: ImportRow[], filter: ResultFilter): ImportRow[] {
  return filter === 'all' ? rows : rows.filter((r) => rowResult(r) === filter)
}

/** Progress of a running import, 0–100: rows with a result over the rows to process. */
export function progressPercent(imp: Pick<MachineImport, 'processed' | 'total'>): number {
  if (!imp.total) return 0
  return Math.min(100, Math.round(((imp.processed ?? 0) / imp.total) * 100))
}

export const isFinished = (imp: Pick<MachineImport, 'status'>) => imp.status === 'done' || imp.status === 'failed'

export const MAX_FILE_MB = 10
const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'

/** Why a chosen file is refused before upload, as an i18n key; null when it may go. */
export function checkFile(file: Pick<File, 'name' | 'size' | 'type'>): 'import.notXlsx' | 'import.tooLarge' | 'import.emptyFile' | null {
  const xlsx = /\.xlsx$/i.test(file.name) && (!file.type || file.type === XLSX_TYPE || file.type === 'application/octet-stream')
  if (!xlsx) return 'import.notXlsx'
  if (file.size > MAX_FILE_MB * 1024 * 1024) return 'import.tooLarge'
  if (file.size === 0) return 'import.emptyFile'
  return null
}

export interface FileProblem {
  /** too_large, not_xlsx, encrypted, corrupt, empty, missing_columns, duplicate_columns, formulas, too_many_rows; invalid otherwise */
  reason: string
  /** what is wrong, in the console's language */
  message: string
  /** cells with formulas, or missing/repeated columns */
  where: string[]
}

/**
 * The API's answer about a file refused as a whole (413, or 400 with
 * data.reason machines.import.<problem> and data.params {kind, cells, columns}).
 */
export function fileProblem(err: ApiError): FileProblem | null {
  const params = err.params as { kind?: string; cells?: string[] | null; columns?: string[] | null }
  if (err.status === 413) return { reason: 'too_large', message: codeText(err.reason, params, err.message), where: [] }
  if (err.status !== 400) return null
  const fieldMessages = err.fieldErrors
    .filter((f) => f.reason !== err.reason)
    .map((f) => codeText(f.reason, f.params, f.message))
    .filter((m) => m && m !== err.message)
  return {
    reason: params.kind ?? 'invalid',
    message: [codeText(err.reason, params, err.message), ...fieldMessages].join('; '),
    where: [...(params.cells ?? []), ...(params.columns ?? [])],
  }
}
