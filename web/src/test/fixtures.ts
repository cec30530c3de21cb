// Records as the API answers them, for specs; each spec overrides what it tests.
import type { Task } from '@/api/tasks'
import type { Allocation, Machine } from '@/api/types'

export function machineFixture(over: Partial<Machine> = {}): Machine {
  return {
    id: '3f0c2a52-0d47-4f0e-9a3a-1f0b2c3d4e5f',
    name: 'gpu-bj-001',
    gpuUtil: null,
    region: '北京',
    room: '',
    gpuModel: 'RTX 4090',
    gpuMemoryGb: 24,
    gpuCount: 8,
    cudaVersion: '12.4',
    driverVersion: '550.54.15',
    cpuModel: 'Xeon',
    cpuCores: 64,
    memoryGb: 512,
    diskGb: 4096,
    internalIp: '10.0.0.1',
    sshHost: 'gpu-bj-001.beijing.ssh.example.com',
    sshPort: 22,
    containerDomainPrefix: 'gpu-bj-001',
    sshUser: 'root',
    sshPassword: '******',
    status: 'online',
    allocationStatus: 'unallocated',
    agentTokenIssued: true,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    ...over,
  }
}

/** A lease of machineFixture() that ended by reclaim. */
export function allocationFixture(over: Partial<Allocation> = {}): Allocation {
  return {
    id: 'al-1',
    tenantId: 't1',
    customer: 'Acme',
    customerName: 'Ann',
    machineId: '3f0c2a52-0d47-4f0e-9a3a-1f0b2c3d4e5f',
    machineName: 'gpu-bj-001',
    gpuModel: 'RTX 4090',
    gpuCount: 8,
    region: '北京',
    status: 'reclaimed',
    expiring: false,
    months: 1,
    extensions: 0,
    remark: '',
    startAt: '2026-02-01T00:00:00Z',
    endAt: '2026-03-01T00:00:00Z',
    createdAt: '2026-02-01T00:00:00Z',
    createdByName: 'admin',
    expiringNotifiedAt: null,
    endedAt: '2026-03-01T08:00:00Z',
    endedByName: 'admin',
    endReason: 'test',
    hostSteps: [],
    cleanupStatus: 'done',
    ...over,
  }
}

/** Two machines of a customer, for task specs. */
export const MA = 'aaaaaaaa-0000-0000-0000-000000000001'
export const MB = 'bbbbbbbb-0000-0000-0000-000000000002'

/** A running training task on machine MA. */
export function taskFixture(over: Partial<Task> = {}): Task {
  return {
    id: 'task-1',
    name: 'resnet50',
    type: 'training',
    status: 'running',
    statusReason: '',
    statusParams: {},
    machineId: MA,
    machineName: 'gpu-a',
    tenantId: 't1',
    gpuCount: 2,
    gpus: [0, 1],
    image: 'remotegpu/testimage:latest',
    attempt: 1,
    maxAttempts: 3,
    queuePosition: null,
    createdAt: '2026-01-01T00:00:00Z',
    startedAt: '2026-01-01T00:00:10Z',
    finishedAt: null,
    durationSeconds: 0,
    gpuUtil: 87.4,
    exitCode: null,
    ...over,
  }
}
