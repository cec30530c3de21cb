import { computed, ref, shallowRef } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import {
  getDataset,
  listDatasetMounts,
  listDatasetTasks,
  unmountDataset,
  type Dataset,
  type DatasetMount,
  type DatasetTaskUse,
} from '@/api/datasets'
import { isApiError } from '@/api/http'
import { usePolling } from '@/composables/usePolling'
import { canEdit } from '@/components/datasets/datasetUtil'
import { useDatasetActions } from '@/components/datasets/useDatasetActions'
import { useUserStore } from '@/store/modules/user'
import { confirmAction } from '@/utils/confirm'

export const POLL_MS = 4000

export function useDatasetDetail() {
  const route = useRoute()
  const router = useRouter()
  const { t } = useI18n()
  const user = useUserStore()
  const id = String(route.params.id)

  const dataset = shallowRef<Dataset | null>(null)
  const notFound = ref(false)
  const loadError = ref(false)
  const loading = ref(true)
  const mounts = ref<DatasetMount[]>([])
  const uses = ref<DatasetTaskUse[]>([])
  let quiet = false

  async function load() {
    try {
      dataset.value = await getDataset(id, quiet)
      loadError.value = false
    } catch (e) {
      if (isApiError(e) && (e.status === 404 || e.status === 403)) notFound.value = true
      else if (!quiet) loadError.value = true
    } finally {
      loading.value = false
    }
  }

  async function loadMounts() {
    try {
      mounts.value = (await listDatasetMounts(id)).filter((m) => m.status !== 'unmounted')
    } catch {
      // the section stays as it was
    }
  }

  async function loadUses() {
    try {
      uses.value = await listDatasetTasks(id)
    } catch {
      uses.value = []
    }
  }

  async function loadAll() {
    await load()
    if (dataset.value) await Promise.all([loadMounts(), loadUses()])
  }
  void loadAll()

  const changing = computed(
    () =>
      dataset.value?.status === 'uploading' ||
      dataset.value?.status === 'processing' ||
      mounts.value.some((m) => m.status === 'mounting' || m.status === 'unmounting'),
  )
  usePolling(
    async () => {
      quiet = true
      try {
        await load()
        await loadMounts()
      } finally {
        quiet = false
      }
    },
    { intervalMs: POLL_MS, active: () => changing.value },
  )

  const editable = computed(() => !!dataset.value && canEdit(dataset.value, user.me))

  const actions = useDatasetActions(async () => {
    await router.push('/customer/datasets/list')
  })

  async function unmount(m: DatasetMount) {
    if (!(await confirmAction(t('dataset.mount.confirmUnmount', { machine: m.machineName, path: m.path }), { danger: true, confirmText: t('dataset.actions.unmount') })))
      return
    try {
      await unmountDataset(id, m.id)
      ElMessage.success(t('dataset.mount.unmountStarted'))
      await loadMounts()
    } catch {
      // shown by the HTTP layer
    }
  }

  return { id, dataset, notFound, loadError, loading, mounts, uses, editable, actions, load, loadAll, loadMounts, unmount }
}
