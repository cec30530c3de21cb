import { cleanParams, http } from './http'
import type { Allocation, AllocationCreateInput, AllocationListParams, PageResult } from './types'

const base = '/api/admin/allocations'

export const listAllocations = (params: AllocationListParams) =>
  http.get<PageResult<Allocation>>(base, { params: cleanParams(params) })

/** One allocation per machine. 409/400 (a machine taken, offline, in maintenance) are shown on the form. */
export const createAllocations = (input: AllocationCreateInput) =>
  http.post<Allocation[] | null>(base, input, { silent: [400, 409] })

/** The latest five, newest first. */
export const recentAllocations = () => http.get<Allocation[]>(`${base}/recent`)

/** With its hostSteps and cleanupStatus (the lease cleanup's progress). */
export const getAllocation = (id: string) => http.get<Allocation>(`${base}/${id}`)

export const extendAllocation = (id: string, months: number) =>
  http.post<Allocation>(`${base}/${id}/extend`, { months })

/**
 * 202: the lease ends at once; the answer is the allocation as it is, with
 * cleanupStatus running while the host's end-of-lease steps go on.
 */
export const reclaimAllocation = (id: string, reason: string) =>
  http.post<Allocation>(`${base}/${id}/reclaim`, { reason })
