// Shared rules of the dataset pages: who may change a dataset, how codes and
// their byte figures are shown, what a mount path may be.
import type { Component } from 'vue'
import { Document, Files, Headset, Picture, VideoCamera } from '@element-plus/icons-vue'
import type { Dataset, DatasetType } from '@/api/datasets'
import type { ApiError } from '@/api/core'
import type { Me } from '@/api/types'
import { codeText, i18n } from '@/locales'
import { formatBytes } from '@/utils/format'
import type { UploadError } from '@/utils/upload/queue'

export const TYPE_ICONS: Record<DatasetType, Component> = {
  image: Picture,
  text: Document,
  audio: Headset,
  video: VideoCamera,
  other: Files,
}

/** Parameters that are byte counts: shown as 1.5 GiB, not as a long number. */
const BYTE_PARAMS = new Set(['need', 'free', 'quota', 'size', 'max', 'used', 'bytes', 'limit', 'reserved', 'total'])

export function readableParams(params: Record<string, unknown> | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(params ?? {})) out[k] = BYTE_PARAMS.has(k) && typeof v === 'number' ? formatBytes(v) : v
  return out
}

/** A code's text with its byte figures readable; the fallback when the console does not know it. */
export function datasetCodeText(code: string | null | undefined, params: Record<string, unknown> | null | undefined, fallback = ''): string {
  return codeText(code, readableParams(params), fallback || code || '')
}

/** An API error or an upload error as one line. */
export function errorText(err: UploadError | ApiError | null | undefined): string {
  if (!err) return ''
  const code = 'code' in err && typeof err.code === 'string' ? err.code : (err as ApiError).reason
  const text = datasetCodeText(code, err.params, err.message)
  if (!code && err.status === 0) return i18n.global.t('http.network')
  return text
}

/** The reason a dataset (or a mount) failed, translated. */
export function statusReasonText(d: { statusReason?: string; statusParams?: Record<string, unknown> | null }): string {
  return d.statusReason ? datasetCodeText(d.statusReason, d.statusParams) : ''
}

/**
 * The caller may change the dataset (edit, share, rename and delete files,
 * delete it): its company's, and the uploader's or an owner's; never a
 * public or a shared one. The API's canEdit wins when it sends one.
 */
export function canEdit(d: Dataset, me: Pick<Me, 'id' | 'role'> | null | undefined): boolean {
  if (typeof d.canEdit === 'boolean') return d.canEdit
  if (d.public || d.shared || !me) return false
  return me.role === 'owner' || d.createdBy === me.id
}

/** Datasets that can be downloaded and mounted. */
export const usable = (d: Pick<Dataset, 'status'>) => d.status === 'available'

const FORBIDDEN = ['/proc', '/sys', '/dev', '/etc', '/boot', '/bin', '/sbin', '/lib', '/usr', '/var/lib', '/run']

/** docs/datasets.md "Mount paths": absolute, clean, two levels at least, not under a system directory. */
export function validMountPath(path: string): boolean {
  const p = path.trim()
  if (!p.startsWith('/') || p.includes('\0')) return false
  const parts = p.split('/').slice(1)
  if (parts[parts.length - 1] === '') parts.pop()
  if (parts.length < 2 || parts.some((s) => !s || s === '.' || s === '..')) return false
  const clean = '/' + parts.join('/')
  return !FORBIDDEN.some((f) => (f === '/lib' ? /^\/lib[^/]*(\/|$)/.test(clean) : clean === f || clean.startsWith(f + '/')))
}

/** A default mount path for a dataset: /data/datasets/<name, made safe>. */
export function defaultMountPath(name: string): string {
  const safe = name.trim().replace(/[^\w.-]+/g, '-').replace(/^[-.]+|-+$/g, '') || 'dataset'
  return `/data/datasets/${safe}`
}
