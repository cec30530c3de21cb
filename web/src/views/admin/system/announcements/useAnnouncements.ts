import { reactive, ref, useTemplateRef } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage, type FormInstance, type FormRules } from 'element-plus'
import { createAnnouncement, deleteAnnouncement, listAnnouncements, updateAnnouncement } from '@/api/announcements'
import type { Announcement, AnnouncementInput } from '@/api/types'
import { useServerErrors } from '@/composables/useServerErrors'
import { useTable } from '@/composables/useTable'
import { confirmAction } from '@/utils/confirm'
import { maxLength, required } from '@/utils/rules'

const toInput = (a: Announcement): AnnouncementInput => ({
  title: a.title,
  content: a.content,
  level: a.level,
  published: a.published,
})

export function useAnnouncements() {
  const { t } = useI18n()
  const table = useTable<Announcement>(listAnnouncements, { sortBy: 'createdAt', order: 'desc' })

  /* ---- the create/edit dialog ---- */
  const dialog = reactive({ visible: false, editingId: '' })
  const formRef = useTemplateRef<FormInstance>('formRef')
  const form = reactive<AnnouncementInput>({ title: '', content: '', level: 'info', published: false })
  const rules: FormRules<AnnouncementInput> = {
    title: [required('announcement.title'), maxLength(200)],
    content: [required('announcement.content'), maxLength(10000)],
  }
  const server = useServerErrors(['title', 'content', 'level', 'published'] as const)
  const saving = ref(false)

  function open(a?: Announcement) {
    dialog.editingId = a?.id ?? ''
    Object.assign(form, a ? toInput(a) : { title: '', content: '', level: 'info', published: false })
    server.clear()
    formRef.value?.clearValidate()
    dialog.visible = true
  }

  async function save() {
    if (!(await formRef.value?.validate().catch(() => false))) return
    saving.value = true
    try {
      const input = { ...form, title: form.title.trim() }
      if (dialog.editingId) await updateAnnouncement(dialog.editingId, input)
      else await createAnnouncement(input)
      ElMessage.success(t('common.saved'))
      dialog.visible = false
      await table.load()
    } catch (e) {
      server.report(e)
    } finally {
      saving.value = false
    }
  }

  /* ---- row actions ---- */
  const toggling = ref<string | null>(null)

  async function togglePublished(a: Announcement, published: boolean) {
    toggling.value = a.id
    try {
      await updateAnnouncement(a.id, { ...toInput(a), published })
      ElMessage.success(t(published ? 'announcement.publishedMsg' : 'announcement.unpublishedMsg'))
      await table.load()
    } catch {
      // reported by the HTTP layer; the switch stays as it was
    } finally {
      toggling.value = null
    }
  }

  async function remove(a: Announcement) {
    const ok = await confirmAction(t('announcement.confirmDelete', { title: a.title }), {
      danger: true,
      confirmText: t('common.delete'),
    })
    if (!ok) return
    try {
      await deleteAnnouncement(a.id)
      ElMessage.success(t('common.deleted'))
      await table.load()
    } catch {
      // reported by the HTTP layer
    }
  }

  return { ...table, dialog, form, rules, serverErrors: server.errors, saving, open, save, toggling, togglePublished, remove }
}
