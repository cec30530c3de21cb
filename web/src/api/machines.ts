import { cleanParams, http } from './http'
import type {
  AgentBootstrap,
  Allocation,
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
  ResetPasswordResult,
  RevealedPassword,
  SshCommand,
} from './types'

const base = '/api/admin/machines'

export const listMachines = (params: MachineListParams) =>
  http.get<PageResult<Machine>>(base, { params: cleanParams(params) })

/** Regions, GPU models and states the filters and forms offer. */
export const getMachineOptions = () => http.get<MachineOptions>(`${base}/options`)

export const getMachine = (id: string) => http.get<Machine>(`${base}/${id}`)

/** 409 (name taken) and 422 are shown at the form fields. */
export const createMachine = (input: MachineCreateInput) =>
  http.post<MachineCreateResult>(base, input, { silent: [400, 409, 422] })

export const updateMachine = (id: string, input: MachineUpdateInput) =>
  http.put<Machine>(`${base}/${id}`, input, { silent: [400, 409, 422] })

/** 409 (still allocated) is toasted with the API's message. */
export const deleteMachine = (id: string) => http.delete<Record<string, never>>(`${base}/${id}`)

/** Audited. */
export const revealMachinePassword = (id: string) => http.post<RevealedPassword>(`${base}/${id}/reveal-password`)

/** The new password is shown once. */
export const resetMachinePassword = (id: string) => http.post<ResetPasswordResult>(`${base}/${id}/reset-password`)

/** What the machine's agent reported, where it differs from the record, its GPU source and when it was last heard from. */
export const getMachineInventory = (id: string) => http.get<MachineInventory>(`${base}/${id}/inventory`)

export const getMachineSshCommand = (id: string) => http.get<SshCommand>(`${base}/${id}/ssh-command`)

/** A new bootstrap token (the old one stops working); shown once. */
export const rotateAgentToken = (id: string) => http.post<AgentBootstrap>(`${base}/${id}/agent-token`)

export const startMaintenance = (id: string, input: MaintenanceInput) =>
  http.post<MaintenanceRecord>(`${base}/${id}/maintenance`, input, { silent: [422] })

export const endMaintenance = (id: string) => http.post<MaintenanceRecord>(`${base}/${id}/maintenance/end`)

export const listMaintenanceRecords = (params: MaintenanceListParams) =>
  http.get<PageResult<MaintenanceRecord>>(`${base}/maintenance-records`, { params: cleanParams(params) })

/** 409 (in maintenance, offline, already allocated) and 422 are shown in the dialog. */
export const allocateMachine = (id: string, input: MachineAllocateInput) =>
  http.post<Allocation[] | null>(`${base}/${id}/allocate`, input, { silent: [400, 409, 422] })

export const reclaimMachine = (id: string, reason: string) =>
  http.post<Allocation>(`${base}/${id}/reclaim`, { reason })
