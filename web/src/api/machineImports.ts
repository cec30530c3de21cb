import { cleanParams, http } from './http'
import type { MachineImport, MachineImportDetail, MachineImportListParams, PageResult } from './types'

const base = '/api/admin/machines'

/** The Excel template (.xlsx bytes). */
export const downloadImportTemplate = () => http.blob(`${base}/import/template`)

/**
 * Upload a filled-in template: answers with every row validated; nothing is
 * created until confirmed. A refused file (413, or 400 with data.reason machines.import.<problem>) is shown on the page.
 */
export function uploadImport(file: File) {
  const form = new FormData()
  form.append('file', file)
  return http.post<MachineImportDetail>(`${base}/import`, form, { silent: [400, 413] })
}

/** Starts the import workflow (202); confirming again changes nothing. */
export const confirmImport = (id: string) => http.post<MachineImportDetail>(`${base}/import/${id}/confirm`)

/** `includeRows: false` answers only the status and counters (for polling). */
export const getImport = (id: string, includeRows = true, silent = false) =>
  http.get<MachineImportDetail>(`${base}/import/${id}`, { params: { includeRows }, silent })

export const listImports = (params: MachineImportListParams) =>
  http.get<PageResult<MachineImport>>(`${base}/imports`, { params: cleanParams(params) })
