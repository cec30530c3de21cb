import { computed, onBeforeUnmount, ref, shallowRef, watch } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import { confirmImport, downloadImportTemplate, getImport, listImports, uploadImport } from '@/api/machineImports'
import { isApiError } from '@/api/http'
import type { MachineImport, MachineImportDetail } from '@/api/types'
import { useTable } from '@/composables/useTable'
import { confirmAction } from '@/utils/confirm'
import {
  checkFile,
  fileProblem,
  filterPreview,
  filterResults,
  isFinished,
  MAX_FILE_MB,
  progressPercent,
  type FileProblem,
  type PreviewFilter,
  type ResultFilter,
} from './importPreview'

export const POLL_MS = 1000
export const ROWS_PAGE_SIZE = 50
const TEMPLATE_NAME = 'machine-import-template.xlsx'

/** Save bytes as a file through a temporary link. */
function saveBlob(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

/**
 * 批量导入: upload → preview (every row checked, errors per cell) → confirm →
 * live progress (polled every second) → per-row result. The import being
 * looked at is `?id=` in the URL, so a reload comes back to it.
 */
export function useMachineImport() {
  const { t } = useI18n()
  const route = useRoute()
  const router = useRouter()

  const current = shallowRef<MachineImportDetail | null>(null)
  const uploading = ref(false)
  const confirming = ref(false)
  const loadingImport = ref(false)
  const problem = ref<FileProblem | null>(null)
  const downloading = ref(false)

  const stage = computed<'upload' | 'preview' | 'running' | 'result'>(() => {
    const imp = current.value
    if (!imp) return 'upload'
    if (imp.status === 'previewed') return 'preview'
    if (imp.status === 'running') return 'running'
    return 'result'
  })
  const percent = computed(() => (current.value ? progressPercent(current.value) : 0))

  // rows of the preview and of the result, filtered and paged in the browser
  const previewFilter = ref<PreviewFilter>('all')
  const resultFilter = ref<ResultFilter>('all')
  const rowsPage = ref(1)
  const rows = computed(() => current.value?.rows ?? [])
  const filteredRows = computed(() =>
    stage.value === 'preview' ? filterPreview(rows.value, previewFilter.value) : filterResults(rows.value, resultFilter.value),
  )
  const pagedRows = computed(() => filteredRows.value.slice((rowsPage.value - 1) * ROWS_PAGE_SIZE, rowsPage.value * ROWS_PAGE_SIZE))
  watch([previewFilter, resultFilter, () => current.value?.id], () => {
    rowsPage.value = 1
  })

  const history = useTable<MachineImport>((page) => listImports(page), { pageSize: 5, sortBy: 'createdAt', order: 'desc' })

  // ---- polling while the workflow runs
  let timer: ReturnType<typeof setTimeout> | undefined
  let alive = true
  function stopPolling() {
    clearTimeout(timer)
    timer = undefined
  }
  onBeforeUnmount(() => {
    alive = false
    stopPolling()
  })

  async function poll(id: string) {
    stopPolling()
    if (!alive || current.value?.id !== id) return
    try {
      // counters only while it runs; the rows once it is done
      const counters = await getImport(id, false, true)
      if (!alive || current.value?.id !== id) return
      if (isFinished(counters)) {
        current.value = await getImport(id, true)
        void history.load()
        if (counters.status === 'done') ElMessage.success(t('import.finished', { created: counters.created ?? 0 }, counters.created ?? 0))
        return
      }
      current.value = { ...counters, rows: current.value?.rows ?? [] }
    } catch {
      // a missed poll is retried on the next tick
    }
    timer = setTimeout(() => void poll(id), POLL_MS)
  }

  /** Show an import (from the URL or the history). */
  async function open(id: string) {
    stopPolling()
    loadingImport.value = true
    problem.value = null
    try {
      current.value = await getImport(id, true)
      if (current.value.status === 'running') timer = setTimeout(() => void poll(id), POLL_MS)
    } catch {
      current.value = null
    } finally {
      loadingImport.value = false
    }
  }

  /** The URL names the import being looked at. */
  async function show(imp: MachineImportDetail | null) {
    current.value = imp
    const query = imp ? { id: imp.id } : {}
    if ((route.query.id ?? '') !== (imp?.id ?? '')) await router.replace({ query })
  }

  watch(
    () => route.query.id,
    (id) => {
      if (typeof id === 'string' && id && id !== current.value?.id) void open(id)
      if (!id && current.value) {
        stopPolling()
        current.value = null
      }
    },
    { immediate: true },
  )

  async function downloadTemplate() {
    downloading.value = true
    try {
      saveBlob(await downloadImportTemplate(), TEMPLATE_NAME)
    } catch {
      // reported by the HTTP layer
    } finally {
      downloading.value = false
    }
  }

  /** el-upload's before-upload: refuse what the API would refuse, before sending it. */
  function beforeUpload(file: File): boolean {
    const why = checkFile(file)
    if (why) {
      ElMessage.error(t(why, { mb: MAX_FILE_MB }))
      return false
    }
    return true
  }

  async function upload(file: File) {
    if (!beforeUpload(file)) return
    uploading.value = true
    problem.value = null
    try {
      const imp = await uploadImport(file)
      previewFilter.value = imp.invalid ? 'invalid' : 'all'
      await show(imp)
      void history.load()
    } catch (e) {
      const p = isApiError(e) ? fileProblem(e) : null
      if (p) problem.value = p
      else if (!isApiError(e)) throw e
    } finally {
      uploading.value = false
    }
  }

  async function confirm() {
    const imp = current.value
    if (!imp) return
    const ok = await confirmAction(
      t('import.confirmText', { valid: imp.valid, skipped: imp.invalid + imp.duplicates }),
      { confirmText: t('import.confirm') },
    )
    if (!ok) return
    confirming.value = true
    try {
      const started = await confirmImport(imp.id)
      current.value = { ...imp, ...started, status: started?.status ?? 'running', rows: imp.rows }
      resultFilter.value = 'all'
      void poll(imp.id)
    } catch {
      // reported by the HTTP layer
    } finally {
      confirming.value = false
    }
  }

  /** Back to the upload step (the previewed import stays in the history). */
  function restart() {
    stopPolling()
    problem.value = null
    void show(null)
  }

  return {
    current,
    stage,
    percent,
    uploading,
    confirming,
    loadingImport,
    downloading,
    problem,
    previewFilter,
    resultFilter,
    rowsPage,
    filteredRows,
    pagedRows,
    history,
    downloadTemplate,
    beforeUpload,
    upload,
    confirm,
    restart,
    open: (imp: MachineImport) => router.replace({ query: { id: imp.id } }),
  }
}
