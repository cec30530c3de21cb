import type { FormItemRule, FormRules } from 'element-plus'
import { i18n } from '@/locales'
import { maxLength, required } from '@/utils/rules'

const t = (key: string, named: Record<string, unknown> = {}) => i18n.global.t(key, named)

export interface MachineForm {
  name: string
  region: string
  room: string
  gpuModel: string
  gpuMemoryGb: number | null
  gpuCount: number | null
  cudaVersion: string
  driverVersion: string
  cpuModel: string
  cpuCores: number | null
  memoryGb: number | null
  diskGb: number | null
  internalIp: string
  sshHost: string
  sshPort: number | null
  containerDomainPrefix: string
  sshUser: string
  sshPassword: string
  status: 'online' | 'offline' | 'maintenance'
}

export const emptyMachineForm = (): MachineForm => ({
  name: '',
  region: '',
  room: '',
  gpuModel: '',
  gpuMemoryGb: null,
  gpuCount: null,
  cudaVersion: '',
  driverVersion: '',
  cpuModel: '',
  cpuCores: null,
  memoryGb: null,
  diskGb: null,
  internalIp: '',
  sshHost: '',
  sshPort: 22,
  containerDomainPrefix: '',
  sshUser: '',
  sshPassword: '',
  status: 'online',
})

/** A rule from a regular expression (the API's own); empty values pass. */
const pattern = (re: RegExp, messageKey: string): FormItemRule => ({
  trigger: 'blur',
  validator: (_r, v: unknown, cb) => (v === '' || v === null || v === undefined || re.test(String(v).trim()) ? cb() : cb(new Error(t(messageKey)))),
})

const between = (min: number, max: number): FormItemRule => ({
  trigger: ['blur', 'change'],
  validator: (_r, v: number | null, cb) =>
    v === null || v === undefined || (v >= min && v <= max) ? cb() : cb(new Error(t('validation.between', { min, max }))),
})

// The same rules as the API (internal/fleet), so most mistakes are caught before sending.
export const machineRules: FormRules<MachineForm> = {
  name: [required('machine.name'), pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'machine.rule.name')],
  region: [required('machine.region', 'change')],
  room: [maxLength(100)],
  gpuModel: [required('machine.gpuModel', 'change'), maxLength(64)],
  gpuMemoryGb: [required('machine.gpuMemory', 'change'), between(1, 1024)],
  gpuCount: [required('machine.gpuCount', 'change'), between(1, 64)],
  cudaVersion: [pattern(/^[0-9]+(\.[0-9]+){0,3}$/, 'machine.rule.version')],
  driverVersion: [pattern(/^[0-9]+(\.[0-9]+){0,3}$/, 'machine.rule.version')],
  cpuModel: [maxLength(128)],
  cpuCores: [between(0, 4096)],
  internalIp: [pattern(/^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/, 'machine.rule.ip')],
  sshHost: [pattern(/^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, 'machine.rule.host')],
  sshPort: [between(1, 65535)],
  containerDomainPrefix: [pattern(/^[a-z0-9][a-z0-9-]{0,62}$/, 'machine.rule.prefix')],
  sshUser: [pattern(/^[a-z_][a-z0-9_-]{0,31}$/, 'machine.rule.user')],
  sshPassword: [pattern(/^[^\s:]{8,128}$/, 'machine.rule.password')],
}
