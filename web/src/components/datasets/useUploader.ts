// The upload page's state (3.1.5.2, 2.1.7.2): the form, the three sources,
// the upload session and its resume after a reload.
import { computed, onBeforeUnmount, onMounted, reactive, ref, shallowRef } from 'vue'
import { useI18n } from 'vue-i18n'
import { onBeforeRouteLeave } from 'vue-router'
import { ElMessage } from 'element-plus'
import {
  deleteAdminDataset,
  deleteDataset,
  importFromMachine,
  importFromUrl,
  uploadApi,
  type Dataset,
  type DatasetInput,
} from '@/api/datasets'
import { isApiError } from '@/api/http'
import { useServerErrors } from '@/composables/useServerErrors'
import { confirmAction } from '@/utils/confirm'
import { workerHasher, type Hasher } from '@/utils/upload/hasher'
import { isArchive, UploadSession, type SessionState } from '@/utils/upload/queue'
import { matchResume, resumeStore, type PickedFile, type ResumeRecord } from '@/utils/upload/resume'
import { errorText } from './datasetUtil'

export type UploadMode = 'local' | 'url' | 'machine'
export type Phase = 'form' | 'uploading' | 'done' | 'failed' | 'imported'

/** The hasher the page uses (tests swap in the inline one). */
export const hashing: { hasher: Hasher } = { hasher: workerHasher }

export function useUploader(scope: 'customer' | 'admin') {
  const { t } = useI18n()
  const api = uploadApi(scope)
  const form = reactive<DatasetInput>({ name: '', type: 'image', description: '', tags: [], access: scope === 'admin' ? 'public' : 'private' })
  const mode = ref<UploadMode>('local')
  const picked = ref<PickedFile[]>([])
  const autoExtract = ref(true)
  const url = ref('')
  const machineId = ref('')
  const machinePath = ref('')
  const phase = ref<Phase>('form')
  const submitting = ref(false)
  const formError = ref('')
  const server = useServerErrors(['name', 'type', 'description', 'tags', 'access', 'url', 'machineId', 'path', 'totalBytes'] as const)

  const session = shallowRef<UploadSession | null>(null)
  const dataset = shallowRef<Dataset | null>(null)
  const records = ref<ResumeRecord[]>(resumeStore.list(scope))
  const resumeNote = ref('')

  const totalPicked = computed(() => picked.value.reduce((s, p) => s + p.file.size, 0))
  const state = computed<SessionState>(() => session.value?.state ?? 'idle')

  function refreshRecords() {
    records.value = resumeStore.list(scope)
  }

  function inputs(list: { file: File; path: string; archive: boolean }[]) {
    return list.map((p) => ({ file: p.file, path: p.path, archive: p.archive }))
  }

  /** Run the session to its end and move the page along. */
  async function drive(s: UploadSession) {
    phase.value = 'uploading'
    const end = await s.run()
    if (end === 'finished') {
      resumeStore.remove(s.datasetId)
      refreshRecords()
      phase.value = 'done'
    } else if (end === 'failed') phase.value = 'failed'
  }

  function newSession(datasetId: string, list: { file: File; path: string; archive: boolean }[]) {
    const s = reactive(
      new UploadSession(inputs(list), {
        datasetId,
        api,
        hasher: hashing.hasher,
        onHashed: (path, md5) => resumeStore.setMd5(datasetId, path, md5),
        onFileDone: (path) => resumeStore.setDone(datasetId, path),
      }),
    ) as UploadSession
    session.value = s
    return s
  }

  /** Field errors go to their fields; anything else (409 quota exceeded: need / free) above the form. */
  function reportCreateError(e: unknown) {
    if (!isApiError(e)) {
      formError.value = String(e)
      return
    }
    if (e.fieldErrors.length) server.report(e)
    else if (!e.notified) formError.value = errorText(e)
  }

  /** 开始上传 / 开始导入 (the form is valid). */
  async function start() {
    formError.value = ''
    server.clear()
    const info = { ...form, name: form.name.trim() }
    submitting.value = true
    try {
      if (mode.value === 'url') {
        dataset.value = await importFromUrl({ ...info, url: url.value.trim() })
        phase.value = 'imported'
        return
      }
      if (mode.value === 'machine') {
        dataset.value = await importFromMachine({ ...info, machineId: machineId.value, path: machinePath.value.trim() })
        phase.value = 'imported'
        return
      }
      const files = picked.value.map((p) => ({ ...p, archive: autoExtract.value && isArchive(p.path) }))
      const created = await api.create({ ...info, totalBytes: totalPicked.value })
      dataset.value = created
      resumeStore.save({
        datasetId: created.id,
        name: created.name || info.name,
        scope,
        createdAt: new Date().toISOString(),
        files: files.map((f) => ({ path: f.path, size: f.file.size, archive: f.archive })),
      })
      refreshRecords()
      submitting.value = false
      await drive(newSession(created.id, files))
    } catch (e) {
      reportCreateError(e)
    } finally {
      submitting.value = false
    }
  }

  function pause() {
    session.value?.pause()
  }

  async function resume() {
    const s = session.value
    if (!s) return
    if (s.state === 'failed') s.retryFailed()
    await drive(s)
  }

  async function removeDataset(id: string) {
    try {
      if (scope === 'admin') await deleteAdminDataset(id)
      else await deleteDataset(id)
    } catch (e) {
      // already gone is fine
      if (!(isApiError(e) && e.status === 404)) throw e
    }
  }

  /** 取消上传: stop and delete the dataset made for it. */
  async function cancel() {
    const s = session.value
    if (!s) return
    const name = dataset.value?.name ?? resumeStore.get(s.datasetId)?.name ?? ''
    const wasRunning = s.state === 'running'
    if (wasRunning) s.pause()
    if (!(await confirmAction(t('dataset.up.confirmCancel', { name }), { danger: true, confirmText: t('dataset.up.cancel') }))) {
      if (wasRunning) void drive(s)
      return
    }
    s.cancel()
    try {
      await removeDataset(s.datasetId)
    } catch {
      // shown by the HTTP layer; the record stays so that it can be discarded later
      return
    }
    resumeStore.remove(s.datasetId)
    refreshRecords()
    ElMessage.success(t('dataset.up.cancelled'))
    reset()
  }

  /** Another upload from a clean form. */
  function reset() {
    session.value = null
    dataset.value = null
    picked.value = []
    phase.value = 'form'
    formError.value = ''
    resumeNote.value = ''
    Object.assign(form, { name: '', description: '', tags: [] })
  }

  /** 继续上传: the files picked again for an unfinished upload. */
  async function resumeWith(record: ResumeRecord, again: PickedFile[]) {
    resumeNote.value = ''
    const m = matchResume(record, again)
    const pending = record.files.filter((f) => !f.done)
    if (pending.length && !m.matched.length) {
      resumeNote.value = t('dataset.up.resumeNone')
      return
    }
    // is it still there, still uploading?
    try {
      await api.open(record.datasetId)
    } catch (e) {
      if (isApiError(e) && (e.status === 404 || e.status === 409)) {
        resumeStore.remove(record.datasetId)
        refreshRecords()
        ElMessage.warning(t('dataset.up.resumeGone'))
        return
      }
      ElMessage.error(errorText(isApiError(e) ? e : null) || String(e))
      return
    }
    if (m.missing.length) {
      const paths = m.missing
        .slice(0, 5)
        .map((f) => f.path)
        .join(', ')
      resumeNote.value = t('dataset.up.resumeMissing', { n: m.missing.length, paths: m.missing.length > 5 ? `${paths} …` : paths })
    }
    dataset.value = { id: record.datasetId, name: record.name } as Dataset
    form.name = record.name
    await drive(newSession(record.datasetId, m.matched))
  }

  async function discard(record: ResumeRecord) {
    if (!(await confirmAction(t('dataset.up.confirmCancel', { name: record.name }), { danger: true, confirmText: t('dataset.up.resumeDiscard') }))) return
    try {
      await removeDataset(record.datasetId)
    } catch {
      return
    }
    resumeStore.remove(record.datasetId)
    refreshRecords()
  }

  // leaving while sending: the browser asks; an unmounted page stops sending (it can be resumed)
  const beforeUnload = (e: BeforeUnloadEvent) => {
    if (session.value?.state === 'running') {
      e.preventDefault()
      e.returnValue = t('dataset.up.leaveWarning')
    }
  }
  // another page of the console: asked in our words (browsers show their own text above)
  onBeforeRouteLeave(() => (session.value?.state === 'running' ? confirmAction(t('dataset.up.leaveWarning')) : true))
  onMounted(() => window.addEventListener('beforeunload', beforeUnload))
  onBeforeUnmount(() => {
    window.removeEventListener('beforeunload', beforeUnload)
    session.value?.pause()
  })

  return {
    form,
    mode,
    picked,
    autoExtract,
    url,
    machineId,
    machinePath,
    phase,
    submitting,
    formError,
    server,
    session,
    state,
    dataset,
    records,
    resumeNote,
    totalPicked,
    start,
    pause,
    resume,
    cancel,
    reset,
    resumeWith,
    discard,
  }
}
