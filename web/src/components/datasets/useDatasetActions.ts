import { reactive } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import { datasetDownloadLink, deleteDataset, type Dataset } from '@/api/datasets'
import { confirmAction } from '@/utils/confirm'

/** Where a download link is opened (tests replace it). */
export const navigate = { to: (url: string) => window.location.assign(url) }

/** Download (a ticket URL, opened by the browser) and delete of a customer's dataset. */
export function useDatasetActions(changed: (action: 'delete', d: Pick<Dataset, 'id' | 'name'>) => void | Promise<void>) {
  const { t } = useI18n()
  const busy = reactive({ download: '', delete: '' })

  /** The whole dataset as a zip, or one file (`path`). */
  async function download(d: Pick<Dataset, 'id'>, path?: string) {
    busy.download = d.id
    try {
      const link = await datasetDownloadLink(d.id, path)
      navigate.to(link.url)
    } catch {
      // shown by the HTTP layer
    } finally {
      busy.download = ''
    }
  }

  async function remove(d: Pick<Dataset, 'id' | 'name'>) {
    if (!(await confirmAction(t('dataset.confirmDelete', { name: d.name }), { danger: true, confirmText: t('common.delete') }))) return false
    busy.delete = d.id
    try {
      await deleteDataset(d.id)
      ElMessage.success(t('dataset.deleted'))
      await changed('delete', d)
      return true
    } catch {
      return false
    } finally {
      busy.delete = ''
    }
  }

  return { busy, download, remove }
}
