// Datasets and storage (requirements 3.1.5, 2.1.7, 4.3.1; docs/datasets.md).
// The backend lands in parallel: these shapes are written from the contract
// (docs/datasets.md and store/datasets.go) until schema.d.ts has them.
import type { AxiosProgressEvent } from 'axios'
import { cleanParams, http } from './http'
import type { Http } from './core'
import type { PageParams, PageResult } from './types'

export type DatasetType = 'image' | 'text' | 'audio' | 'video' | 'other'
export const DATASET_TYPES: DatasetType[] = ['image', 'text', 'audio', 'video', 'other']
export type DatasetAccess = 'private' | 'team' | 'public'
export type DatasetStatus = 'uploading' | 'processing' | 'available' | 'failed'
export type DatasetSource = 'upload' | 'url' | 'machine'

export interface Dataset {
  id: string
  tenantId: string
  tenantName: string
  public: boolean
  name: string
  type: DatasetType
  description: string
  tags: string[] | null
  access: DatasetAccess
  source: DatasetSource
  sourceRef: string
  status: DatasetStatus
  statusReason: string
  statusParams: Record<string, unknown> | null
  sizeBytes: number
  fileCount: number
  reservedBytes: number
  progressBytes: number
  downloadCount: number
  createdBy: string
  createdByName: string
  shared: boolean
  /** the caller may change it (rename and delete files, edit, share); absent: the console decides */
  canEdit?: boolean
  lastUsedAt: string | null
  createdAt: string
  updatedAt: string
}

export interface DatasetListParams extends PageParams {
  q?: string
  type?: string
  status?: string
}

export interface AdminDatasetListParams extends DatasetListParams {
  tab: 'public' | 'customer' | 'pending'
}

export interface StorageQuota {
  usedBytes: number
  reservedBytes: number
  quotaBytes: number
  customQuota?: boolean
}

export interface DatasetInput {
  name: string
  type: DatasetType
  description: string
  tags: string[]
  access: DatasetAccess
}

export interface UploadCreateInput extends DatasetInput {
  totalBytes: number
}

export interface UploadFileSpec {
  path: string
  size: number
  md5: string
  archive: boolean
}

/** One file of an upload as the API answers it: done (秒传) or open with its confirmed parts. */
export interface UploadFileState {
  path: string
  uploadId: string
  state: 'done' | 'open'
  chunkSize: number
  chunkCount: number
  confirmedParts: number[] | null
  size?: number
  md5?: string
}

export interface ImportUrlInput extends DatasetInput {
  url: string
}

export interface ImportMachineInput extends DatasetInput {
  machineId: string
  path: string
}

/** A folder or a file of a dataset's folder. */
export interface DatasetFile {
  path: string
  name: string
  /** a folder (implied by the paths under it) */
  dir: boolean
  /** a folder: the sum of its files */
  size: number
  md5: string
  /** a folder: its files at any depth; a file: 1 */
  fileCount: number
  /** a folder: its newest file's */
  createdAt: string
}

export interface DatasetFileParams extends PageParams {
  dir?: string
  q?: string
}

export type MountStatus = 'mounting' | 'mounted' | 'failed' | 'unmounting' | 'unmounted'

export interface DatasetMount {
  id: string
  datasetId: string
  datasetName: string
  machineId: string
  machineName: string
  path: string
  status: MountStatus
  statusReason: string
  statusParams: Record<string, unknown> | null
  createdAt: string
  mountedAt: string | null
  updatedAt?: string
}

export interface DatasetTaskUse {
  taskId: string
  taskName: string
  taskStatus: string
  containerPath: string
  createdAt: string
}

export type ShareStatus = 'pending' | 'approved' | 'rejected'

export interface DatasetShare {
  id: string
  datasetId: string
  datasetName: string
  /** the dataset's company */
  ownerTenantId: string
  /** the company it is shared with */
  tenantId: string
  tenantCode: string
  tenantName: string
  status: ShareStatus
  reason: string
  requestedBy: string
  createdAt: string
  decidedAt: string | null
}

export interface ShareInput {
  access?: DatasetAccess
  tenantCodes: string[]
}

export interface DownloadLink {
  url: string
  expiresAt: string
  filename?: string
}

/** list answers may come as {list,…}, a bare array, or null */
function asList<T>(v: T[] | { list?: T[] | null; files?: T[] | null } | null | undefined): T[] {
  if (!v) return []
  if (Array.isArray(v)) return v
  return v.list ?? v.files ?? []
}

/* ---------- customer ---------- */

const base = '/api/customer/datasets'
const enc = encodeURIComponent

export type DatasetTab = 'mine' | 'public' | 'shared'
const tabUrl: Record<DatasetTab, string> = { mine: base, public: `${base}/public`, shared: `${base}/shared` }

export const listDatasets = (tab: DatasetTab, params: DatasetListParams, quiet = false) =>
  http.get<PageResult<Dataset>>(tabUrl[tab], { params: cleanParams(params), silent: quiet })

export const getStorageQuota = () => http.get<StorageQuota>('/api/customer/storage/quota')

/** 404 is the page's to show. */
export const getDataset = (id: string, quiet = false) => http.get<Dataset>(`${base}/${id}`, { silent: quiet ? true : [404] })

export const updateDataset = (id: string, input: Partial<DatasetInput>) => http.put<Dataset>(`${base}/${id}`, input)

export const deleteDataset = (id: string) => http.delete<unknown>(`${base}/${id}`)

export const listDatasetFiles = (id: string, prefix: string | undefined, params: DatasetFileParams) =>
  http.get<PageResult<DatasetFile>>(`${prefix ?? base}/${id}/files`, { params: cleanParams(params) })

export const deleteDatasetFile = (id: string, path: string) => http.delete<unknown>(`${base}/${id}/files`, { params: { path } })

export const renameDatasetFile = (id: string, from: string, to: string) =>
  http.post<unknown>(`${base}/${id}/files/rename`, { from, to })

/** The preview endpoint's URL of a file (the path URL-encoded as one segment). */
export const previewUrl = (id: string, path: string, prefix = base) => `${prefix}/${id}/preview/${enc(path)}`

/** An image or the first 64 KiB of a text file, fetched with the token. */
export const previewDatasetFile = (id: string, path: string, prefix = base) =>
  http.blob(previewUrl(id, path, prefix ?? base), { silent: true })

/** A URL with a ticket valid 5 minutes: one file, or the whole dataset as a zip. */
export const datasetDownloadLink = (id: string, path?: string, prefix = base) =>
  http.post<DownloadLink>(`${prefix}/${id}/download-link`, cleanParams({ path }))

export const listDatasetMounts = async (id: string) => asList(await http.get<DatasetMount[] | PageResult<DatasetMount> | null>(`${base}/${id}/mounts`))

export const mountDataset = (id: string, machineId: string, path: string) =>
  http.post<DatasetMount>(`${base}/${id}/mount`, { machineId, path }, { silent: [400] })

export const unmountDataset = (id: string, mountId: string) => http.post<unknown>(`${base}/${id}/unmount`, { mountId })

export const listDatasetTasks = async (id: string) =>
  asList(await http.get<DatasetTaskUse[] | PageResult<DatasetTaskUse> | null>(`${base}/${id}/tasks`))

export const shareDataset = (id: string, input: ShareInput) => http.post<unknown>(`${base}/${id}/share`, input, { silent: [400] })

export const listDatasetShares = async (id: string) =>
  asList(await http.get<DatasetShare[] | PageResult<DatasetShare> | null>(`${base}/${id}/shares`))

export const revokeDatasetShare = (id: string, shareId: string) => http.delete<unknown>(`${base}/${id}/shares/${shareId}`)

export const listMounts = (params: PageParams & { status?: string; datasetId?: string } = {}, quiet = false) =>
  http.get<PageResult<DatasetMount> | DatasetMount[] | null>(`${base}/mounts`, { params: cleanParams(params), silent: quiet })

/** The datasets mounted on one machine now: what a task there can bind. */
export const listMountedOn = async (machineId: string) =>
  asList(
    await http.get<PageResult<DatasetMount> | DatasetMount[] | null>(`${base}/mounts`, {
      params: { machineId, status: 'mounted', pageSize: 100 },
    }),
  )

export const createMount = (datasetId: string, machineId: string, path: string) =>
  http.post<DatasetMount>(`${base}/mount`, { datasetId, machineId, path }, { silent: [400] })

export const deleteMount = (mountId: string) => http.delete<unknown>(`${base}/mounts/${mountId}`)

/** 409 uploads.quotaExceeded and 400 are shown on the form. */
export const importFromUrl = (input: ImportUrlInput) => http.post<Dataset>(`${base}/import-url`, input, { silent: [400, 409] })

export const importFromMachine = (input: ImportMachineInput) =>
  http.post<Dataset>(`${base}/import-machine`, input, { silent: [400, 409] })

/* ---------- uploads (customer and admin share the protocol) ---------- */

/**
 * The upload protocol's calls, under /api/customer/datasets (a company's
 * dataset) or /api/admin/datasets (a public one). `h` is the HTTP instance
 * (tests pass one with a fake network).
 */
export function uploadApi(scope: 'customer' | 'admin', h: Http = http) {
  const root = `/api/${scope}/datasets`
  return {
    /** the dataset, status uploading, totalBytes reserved; 409 uploads.quotaExceeded */
    create: (input: UploadCreateInput) => h.post<Dataset>(`${root}/upload`, input, { silent: [400, 409] }),
    /** ≤ 1000 files a call */
    init: async (datasetId: string, files: UploadFileSpec[]) =>
      asList(
        await h.post<UploadFileState[] | { files?: UploadFileState[]; list?: UploadFileState[] }>(
          `${root}/${datasetId}/uploads`,
          { files },
          { silent: true },
        ),
      ),
    /** the open uploads with their confirmed parts (resume after a reload) */
    open: async (datasetId: string) =>
      asList(await h.get<UploadFileState[] | { files?: UploadFileState[]; list?: UploadFileState[] }>(`${root}/${datasetId}/uploads`, { silent: true })),
    putPart: (
      datasetId: string,
      uploadId: string,
      n: number,
      body: Blob,
      contentMd5: string,
      signal?: AbortSignal,
      onProgress?: (loaded: number) => void,
    ) =>
      h.put<{ partNumber: number; confirmed: boolean }>(`${root}/${datasetId}/uploads/${uploadId}/parts/${n}`, body, {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-MD5': contentMd5 },
        signal,
        silent: true,
        timeout: 300_000,
        // the bytes as they are (no JSON)
        transformRequest: [(d: unknown) => d],
        onUploadProgress: onProgress ? (e: AxiosProgressEvent) => onProgress(e.loaded) : undefined,
      }),
    complete: (datasetId: string, uploadId: string) =>
      h.post<unknown>(`${root}/${datasetId}/uploads/${uploadId}/complete`, {}, { silent: true }),
    finish: (datasetId: string) => h.post<Dataset>(`${root}/${datasetId}/finish`, {}, { silent: true }),
  }
}
export type UploadApi = ReturnType<typeof uploadApi>

/* ---------- admin ---------- */

const admin = '/api/admin/datasets'

/** A dataset of the library; on 待审核 with its shares waiting for approval. */
export interface AdminDataset extends Dataset {
  pendingShares: DatasetShare[] | null
}

export const listAdminDatasets = (params: AdminDatasetListParams) =>
  http.get<PageResult<AdminDataset>>(admin, { params: cleanParams(params) })

export const updateAdminDataset = (id: string, input: Partial<DatasetInput>) => http.put<Dataset>(`${admin}/${id}`, input)
export const deleteAdminDataset = (id: string) => http.delete<unknown>(`${admin}/${id}`)
export const setDatasetPublic = (id: string) => http.post<unknown>(`${admin}/${id}/set-public`)
export const setDatasetPrivate = (id: string) => http.post<unknown>(`${admin}/${id}/set-private`)
export const approveShare = (shareId: string) => http.post<unknown>(`${admin}/shares/${shareId}/approve`)
export const rejectShare = (shareId: string, reason: string) => http.post<unknown>(`${admin}/shares/${shareId}/reject`, { reason })
export const adminDownloadLink = (id: string, path?: string) => datasetDownloadLink(id, path, admin)

/* ---------- admin storage ---------- */

export interface StorageSample {
  at: string
  capacityBytes: number
  usedBytes: number
  datasetsBytes: number
}

export interface StorageOverview {
  capacityBytes: number
  capacitySource: 'config' | 'objectStore'
  usedBytes: number
  freeBytes: number
  /** used / capacity, 0 to 1 */
  usageRate: number
  datasetsBytes: number
  uploadsBytes: number
  range: '7d' | '30d'
  trend: StorageSample[] | null
}

export interface NamedBytes {
  id: string
  name: string
  bytes: number
}

export interface KindBytes {
  kind: 'datasets' | 'taskOutputs' | 'images' | 'models'
  bytes: number
  /** false: not measured (that content is not kept yet) */
  available: boolean
}

export interface StorageDistribution {
  byCustomer: NamedBytes[] | null
  otherCustomersBytes: number
  platformBytes: number
  byKind: KindBytes[] | null
  byRegion: NamedBytes[] | null
}

export interface CustomerQuota {
  customerId: string
  company: string
  code: string
  usedBytes: number
  reservedBytes: number
  quotaBytes: number
  customQuota: boolean
  datasetCount: number
}

export interface UnusedDataset {
  datasetId: string
  name: string
  customerId: string
  company: string
  status: string
  bytes: number
  lastUsedAt: string | null
  createdAt: string
}

export interface DuplicateContent {
  md5: string
  size: number
  blobs: number
  owners: number
  savableBytes: number
}

export interface AbandonedUpload {
  uploadId: string
  datasetId: string
  datasetName: string
  company: string
  path: string
  bytes: number
  updatedAt: string
}

export interface CleanupSuggestions {
  days: number
  unused: UnusedDataset[] | null
  unusedCount: number
  unusedBytes: number
  duplicates: DuplicateContent[] | null
  duplicateCount: number
  duplicateBytes: number
  abandonedUploads: AbandonedUpload[] | null
  abandonedCount: number
  abandonedBytes: number
  failed: UnusedDataset[] | null
  failedCount: number
  failedBytes: number
  totalBytes: number
}

const storage = '/api/admin/storage'
export const getStorageOverview = (range: '7d' | '30d' = '7d') => http.get<StorageOverview>(`${storage}/overview`, { params: { range } })
export const getStorageDistribution = () => http.get<StorageDistribution>(`${storage}/distribution`)
export const listCustomerQuotas = (params: PageParams & { q?: string }) =>
  http.get<PageResult<CustomerQuota>>(`${storage}/quotas`, { params: cleanParams(params) })
/** quotaBytes null: back to the default */
export const setCustomerQuota = (customerId: string, quotaBytes: number | null) =>
  http.put<CustomerQuota>(`${storage}/quotas/${customerId}`, { quotaBytes }, { silent: [400] })
export const getCleanupSuggestions = (days?: number) => http.get<CleanupSuggestions>(`${storage}/cleanup-suggestions`, { params: cleanParams({ days }) })
