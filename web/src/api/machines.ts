import { cleanParams, http } from './http'
import type {
  AgentBootstrap,
  Allocation,
  FaultyGpu,
  GpuFaultCleared,
  Machine,
  MachineAllocateInput,
  MachineCreateInput,
  MachineCreateResult,
  MachineInventory,
  MachineListParams,
  MachineOptions,
  MachineUpdateInput,
  MaintenanceInput,
  MaintenanceListParams,
  MaintenanceRecord,
  PageResult,
  PasswordReset,
  RevealedPassword,
  SshCommand,
} from './types'

const base = '/api/admin/machines'

export const listMachines = (params: MachineListParams) =>
  http.get<PageResult<Machine>>(base, { params: cleanParams(params) })

/** Regions, GPU models and states the filters and forms offer. */
export const getMachineOptions = () => http.get<MachineOptions>(`${base}/options`)

export const getMachine = (id: string) => http.get<Machine>(`${base}/${id}`)

/** 409 (name taken) and 400 are shown at the form fields. */
export const createMachine = (input: MachineCreateInput) =>
  http.post<MachineCreateResult>(base, input, { silent: [400, 409] })

export const updateMachine = (id: string, input: MachineUpdateInput) =>
  http.put<Machine>(`${base}/${id}`, input, { silent: [400, 409] })

/** 409 (still allocated) is toasted with the API's message. */
export const deleteMachine = (id: string) => http.delete<Record<string, never>>(`${base}/${id}`)

/** Audited. */
export const revealMachinePassword = (id: string) => http.post<RevealedPassword>(`${base}/${id}/reveal-password`)

/**
 * 重置密码 through the host's agent (202): the answer says whether the host
 * applied the new password yet (pending, applied, failed). The password
 * itself is never in the answer: once applied, reveal it with revealMachinePassword.
 */
export const resetMachinePassword = (id: string) => http.post<PasswordReset>(`${base}/${id}/reset-password`)

/** The latest password reset and whether the host applied it (status none when there was none). */
export const getPasswordReset = (id: string, opts: { silent?: boolean } = {}) =>
  http.get<PasswordReset>(`${base}/${id}/password-reset`, { silent: opts.silent })

/**
 * 标记为已重装: ends an unfinished lease cleanup (the steps left are
 * skipped, the agent's keys revoked; the machine is offline until its agent
 * registers again with a new bootstrap token). 409 when no cleanup runs.
 */
export const markMachineReinstalled = (id: string, note?: string) =>
  http.post<Machine>(`${base}/${id}/reinstalled`, note ? { note } : {})

/** What the machine's agent reported, where it differs from the record, its GPU source and when it was last heard from. */
export const getMachineInventory = (id: string) => http.get<MachineInventory>(`${base}/${id}/inventory`)

/** GPUs set aside after a fault (XID / ECC) in the last 24 h; an admin's clear puts one back (audited). */
export const listFaultyGpus = (id: string) => http.get<FaultyGpu[] | null>(`${base}/${id}/gpu-faults`)
export const clearGpuFault = (id: string, index: number) => http.post<GpuFaultCleared>(`${base}/${id}/gpus/${index}/clear-fault`)

export const getMachineSshCommand = (id: string) => http.get<SshCommand>(`${base}/${id}/ssh-command`)

/** A new bootstrap token (the old one stops working); shown once, valid until its expiresAt. */
export const rotateAgentToken = (id: string) => http.post<AgentBootstrap>(`${base}/${id}/agent-token`)

export const startMaintenance = (id: string, input: MaintenanceInput) =>
  http.post<MaintenanceRecord>(`${base}/${id}/maintenance`, input, { silent: [400] })

/** 409 for the platform's lease-cleanup maintenance, which ends with the cleanup. */
export const endMaintenance = (id: string) => http.post<MaintenanceRecord>(`${base}/${id}/maintenance/end`)

export const listMaintenanceRecords = (params: MaintenanceListParams) =>
  http.get<PageResult<MaintenanceRecord>>(`${base}/maintenance-records`, { params: cleanParams(params) })

/** 409 (in maintenance, offline, already allocated, still being cleaned) and 400 are shown in the dialog. */
export const allocateMachine = (id: string, input: MachineAllocateInput) =>
  http.post<Allocation[] | null>(`${base}/${id}/allocate`, input, { silent: [400, 409] })

/** 202: the lease ends at once and the answer is the allocation as it is; the host's cleanup goes on (machine.cleanup). */
export const reclaimMachine = (id: string, reason: string) =>
  http.post<Allocation>(`${base}/${id}/reclaim`, { reason })
