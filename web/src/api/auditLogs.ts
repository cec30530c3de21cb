import { cleanParams, http } from './http'
import type { AuditLog, AuditLogParams, PageResult } from './types'

export const listAuditLogs = (params: AuditLogParams) =>
  http.get<PageResult<AuditLog>>('/api/admin/audit-logs', { params: cleanParams(params) })
