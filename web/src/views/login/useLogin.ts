import { computed, reactive, ref, shallowRef, useTemplateRef } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import type { FormInstance, FormRules } from 'element-plus'
import { describeError, isApiError, type ApiError } from '@/api/http'
import { getPublicStatus, listPublicAnnouncements } from '@/api/public'
import type { Announcement, PublicStatus } from '@/api/types'
import { useUserStore } from '@/store/modules/user'
import { safeRedirect } from '@/router/guards'
import { required } from '@/utils/rules'
import { codeText } from '@/locales'

/** The code of a directory outage (the public status and a 503 of login). */
const DIRECTORY_UNAVAILABLE = 'accounts.directoryUnavailable'

export function useLogin() {
  const router = useRouter()
  const route = useRoute()
  const user = useUserStore()

  const formRef = useTemplateRef<FormInstance>('formRef')
  const form = reactive({ username: '', password: '' })
  const rules: FormRules<typeof form> = {
    username: [required('login.account')],
    password: [required('login.password')],
  }
  const loading = ref(false)
  /** the answer to the last attempt (wrong password, disabled, too many attempts), in the console's language */
  const failure = shallowRef<ApiError | null>(null)
  const error = computed(() => (failure.value ? describeError(failure.value) : ''))

  const status = shallowRef<PublicStatus | null>(null)
  /** set by a 503 from login: the directory is down right now */
  const loginUnavailable = shallowRef<ApiError | null>(null)
  const announcements = shallowRef<Announcement[]>([])

  /** The maintenance notice: from the public status or from a 503 of login. */
  const maintenance = computed(() => {
    if (loginUnavailable.value) return { message: describeError(loginUnavailable.value) }
    const s = status.value
    if (s && (s.maintenance || (s.ldap.enabled && !s.ldap.available))) return { message: codeText(DIRECTORY_UNAVAILABLE, null, s.message) }
    return null
  })

  async function loadAnnouncements() {
    try {
      announcements.value = (await listPublicAnnouncements({ page: 1, pageSize: 5 })).list ?? []
    } catch {
      announcements.value = []
    }
  }

  async function loadStatus() {
    try {
      status.value = await getPublicStatus()
    } catch {
      status.value = null
    }
    if (maintenance.value) await loadAnnouncements()
  }

  async function submit() {
    if (!(await formRef.value?.validate().catch(() => false))) return
    loading.value = true
    failure.value = null
    try {
      const me = await user.login({ username: form.username.trim(), password: form.password })
      loginUnavailable.value = null
      await router.replace(safeRedirect(router, route.query.redirect, me.role) ?? user.homePath)
    } catch (e) {
      if (!isApiError(e)) throw e
      if (e.status === 503) {
        loginUnavailable.value = e
        if (!announcements.value.length) await loadAnnouncements()
      } else if (!e.notified) {
        failure.value = e
      }
    } finally {
      loading.value = false
    }
  }

  return { form, rules, loading, error, maintenance, announcements, loadStatus, submit }
}
