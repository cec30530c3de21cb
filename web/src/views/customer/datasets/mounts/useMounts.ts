import { computed, ref, shallowRef } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import { deleteMount, listDatasets, listMounts, type Dataset, type DatasetMount } from '@/api/datasets'
import { usePolling } from '@/composables/usePolling'
import { confirmAction } from '@/utils/confirm'

export const POLL_MS = 3000

/** The mounts answer as a page or a list. */
function rowsOf(r: Awaited<ReturnType<typeof listMounts>>): DatasetMount[] {
  if (!r) return []
  return Array.isArray(r) ? r : (r.list ?? [])
}

export function useMounts() {
  const { t } = useI18n()
  const mounts = ref<DatasetMount[]>([])
  const loading = ref(false)
  const loaded = ref(false)
  const loadError = shallowRef<unknown>(null)
  const datasets = ref<Pick<Dataset, 'id' | 'name'>[]>([])
  let quiet = false

  async function load() {
    loading.value = !quiet
    try {
      mounts.value = rowsOf(await listMounts({ page: 1, pageSize: 200 }, quiet)).filter((m) => m.status !== 'unmounted')
      loadError.value = null
      loaded.value = true
    } catch (e) {
      if (!quiet) loadError.value = e
    } finally {
      loading.value = false
    }
  }

  /** What can be mounted: available datasets of mine, public and shared. */
  async function loadDatasets() {
    const tabs = ['mine', 'public', 'shared'] as const
    const pages = await Promise.all(tabs.map((tab) => listDatasets(tab, { page: 1, pageSize: 200, status: 'available' }, true).catch(() => null)))
    const seen = new Set<string>()
    datasets.value = pages
      .flatMap((p) => p?.list ?? [])
      .filter((d) => d.status === 'available' && !seen.has(d.id) && seen.add(d.id))
      .map((d) => ({ id: d.id, name: d.name }))
  }

  void load()
  void loadDatasets()

  const changing = computed(() => mounts.value.some((m) => m.status === 'mounting' || m.status === 'unmounting'))
  usePolling(
    async () => {
      quiet = true
      try {
        await load()
      } finally {
        quiet = false
      }
    },
    { intervalMs: POLL_MS, active: () => changing.value },
  )

  const busy = ref('')
  async function unmount(m: DatasetMount) {
    if (!(await confirmAction(t('dataset.mount.confirmUnmount', { machine: m.machineName, path: m.path }), { danger: true, confirmText: t('dataset.actions.unmount') })))
      return
    busy.value = m.id
    try {
      await deleteMount(m.id)
      ElMessage.success(t('dataset.mount.unmountStarted'))
      await load()
    } catch {
      // shown by the HTTP layer
    } finally {
      busy.value = ''
    }
  }

  return { mounts, loading, loaded, loadError, datasets, load, unmount, busy }
}
