import { describe, expect, it } from 'vitest'
import type { Machine } from '@/api/types'
import { emptyMachineForm } from './rules'
import { bodyOf, formOf } from './useMachineForm'

describe('machine form', () => {
  it('leaves empty fields out so the API generates SSH host, prefix, user and port', () => {
    const body = bodyOf({ ...emptyMachineForm(), name: ' gpu-1 ', region: '北京', gpuModel: 'RTX 4090', gpuMemoryGb: 24, gpuCount: 8, sshPort: null })
    expect(body).toEqual({
      name: 'gpu-1',
      region: '北京',
      room: undefined,
      gpuModel: 'RTX 4090',
      gpuMemoryGb: 24,
      gpuCount: 8,
      cudaVersion: undefined,
      driverVersion: undefined,
      cpuModel: undefined,
      cpuCores: undefined,
      memoryGb: undefined,
      diskGb: undefined,
      internalIp: undefined,
      sshHost: undefined,
      sshPort: undefined,
      containerDomainPrefix: undefined,
      sshUser: undefined,
    })
  })

  it('loads a machine into the form, unknown sizes (0) as empty', () => {
    const m = {
      id: 'x',
      name: 'gpu-1',
      region: '北京',
      room: '',
      gpuModel: 'RTX 4090',
      gpuMemoryGb: 24,
      gpuCount: 8,
      cudaVersion: '12.4',
      driverVersion: '',
      cpuModel: '',
      cpuCores: 0,
      memoryGb: 512,
      diskGb: 0,
      internalIp: '',
      sshHost: 'gpu-1.beijing.ssh.example.com',
      sshPort: 22,
      containerDomainPrefix: 'gpu-1',
      sshUser: 'root',
      sshPassword: '******',
      status: 'maintenance',
      allocationStatus: 'unallocated',
      agentTokenIssued: true,
      createdAt: '',
      updatedAt: '',
    } as Machine
    const form = formOf(m)
    expect(form.cpuCores).toBeNull()
    expect(form.diskGb).toBeNull()
    expect(form.memoryGb).toBe(512)
    expect(form.sshPassword).toBe('')
    expect(form.status).toBe('maintenance')
  })
})
