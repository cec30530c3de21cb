import type { Dataset, DatasetMount } from '@/api/datasets'
import type { Me } from '@/api/types'

export function datasetFixture(over: Partial<Dataset> = {}): Dataset {
  return {
    id: 'ds-1',
    tenantId: 'tenant-1',
    tenantName: 'Acme',
    public: false,
    name: 'cats',
    type: 'image',
    description: '',
    tags: ['vision'],
    access: 'private',
    source: 'upload',
    sourceRef: '',
    status: 'available',
    statusReason: '',
    statusParams: {},
    sizeBytes: 3 * 1024 * 1024 * 1024,
    fileCount: 1200,
    reservedBytes: 0,
    progressBytes: 0,
    downloadCount: 0,
    createdBy: 'user-1',
    createdByName: 'Alice',
    shared: false,
    lastUsedAt: null,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-02T00:00:00Z',
    ...over,
  }
}

export function mountFixture(over: Partial<DatasetMount> = {}): DatasetMount {
  return {
    id: 'mnt-1',
    datasetId: 'ds-1',
    datasetName: 'cats',
    machineId: 'm-1',
    machineName: 'gpu-a',
    path: '/data/datasets/cats',
    status: 'mounted',
    statusReason: '',
    statusParams: {},
    createdAt: '2026-01-01T00:00:00Z',
    mountedAt: '2026-01-01T00:01:00Z',
    ...over,
  }
}

export function meFixture(over: Partial<Me> = {}): Me {
  return {
    id: 'user-1',
    username: 'alice',
    name: 'Alice',
    email: 'a@example.com',
    phone: '',
    employeeId: '',
    role: 'member',
    authSource: 'local',
    ...over,
  } as Me
}

export const page = <T>(list: T[]) => ({ list, total: list.length, page: 1, pageSize: 12 })
