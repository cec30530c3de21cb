import { onBeforeUnmount, ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage, type UploadRawFile, type UploadRequestOptions } from 'element-plus'
import { getAvatar, uploadAvatar } from '@/api/profile'
import type { Me } from '@/api/types'

export const AVATAR_TYPES = ['image/png', 'image/jpeg', 'image/webp']
export const AVATAR_MAX_BYTES = 2 * 1024 * 1024

/** Why a file cannot be an avatar (an i18n key), or null. */
export function avatarProblem(file: Pick<File, 'type' | 'size'>): string | null {
  if (!AVATAR_TYPES.includes(file.type)) return 'profile.avatarType'
  if (file.size > AVATAR_MAX_BYTES) return 'profile.avatarSize'
  return null
}

/**
 * The avatar is fetched as a blob with the access token (an <img src> could
 * not send it) and shown through an object URL, released when replaced.
 */
export function useAvatar(onUploaded: (me: Me) => void) {
  const { t } = useI18n()
  const url = ref('')
  const uploading = ref(false)

  function show(blob: Blob | null) {
    if (url.value) URL.revokeObjectURL(url.value)
    url.value = blob ? URL.createObjectURL(blob) : ''
  }

  async function load(hasAvatar: boolean) {
    if (!hasAvatar) return show(null)
    try {
      show(await getAvatar())
    } catch {
      show(null)
    }
  }

  function beforeUpload(file: UploadRawFile) {
    const problem = avatarProblem(file)
    if (problem) ElMessage.error(t(problem, { mb: AVATAR_MAX_BYTES / 1024 / 1024 }))
    return !problem
  }

  async function upload(options: UploadRequestOptions) {
    uploading.value = true
    try {
      const me = await uploadAvatar(options.file)
      onUploaded(me)
      show(options.file) // what was sent is what the API stores
      ElMessage.success(t('profile.avatarUpdated'))
    } catch {
      // reported by the HTTP layer
    } finally {
      uploading.value = false
    }
  }

  onBeforeUnmount(() => show(null))
  return { url, uploading, load, beforeUpload, upload }
}
