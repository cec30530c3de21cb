import { reactive, ref, useTemplateRef } from 'vue'
import { useRouter } from 'vue-router'
import { useI18n } from 'vue-i18n'
import { ElMessage, type FormInstance, type FormRules } from 'element-plus'
import { confirmPasswordReset, requestPasswordReset } from '@/api/auth'
import { isApiError } from '@/api/http'
import { useCountdown } from '@/composables/useCountdown'
import { useServerErrors } from '@/composables/useServerErrors'
import { useUserStore } from '@/store/modules/user'
import { passwordRule, required, sameAs } from '@/utils/rules'

const RESEND_SECONDS = 60

export function useForgotPassword() {
  const { t } = useI18n()
  const router = useRouter()

  /** 0: enter the account; 1: code and new password */
  const step = ref(0)
  const formRef = useTemplateRef<FormInstance>('formRef')
  const form = reactive({ account: '', code: '', newPassword: '', confirm: '' })
  const rules: FormRules<typeof form> = {
    account: [required('forgot.account')],
    code: [required('forgot.code')],
    newPassword: [required('forgot.newPassword'), passwordRule(() => form.account)],
    confirm: [required('forgot.confirmPassword'), sameAs(() => form.newPassword)],
  }
  const countdown = useCountdown()
  const sending = ref(false)
  const submitting = ref(false)
  /** an LDAP account: its password is reset at the company's directory */
  const resetUrl = ref('')
  const server = useServerErrors(['account', 'code', 'newPassword'] as const)

  async function sendCode() {
    if (!(await formRef.value?.validateField('account').catch(() => false))) return
    sending.value = true
    resetUrl.value = ''
    server.clear()
    try {
      const res = await requestPasswordReset(form.account.trim())
      countdown.start(res.resendAfter || RESEND_SECONDS)
      step.value = 1
      ElMessage.success(t('forgot.codeSent', { minutes: Math.round((res.expiresIn || 600) / 60) }))
    } catch (e) {
      if (!isApiError(e)) throw e
      const data = (e.data ?? {}) as { resetUrl?: string; retryAfter?: number }
      if (e.status === 409 && data.resetUrl) {
        resetUrl.value = data.resetUrl
      } else if (e.status === 429) {
        // A code was sent a moment ago: it can be used; the button waits.
        countdown.start(data.retryAfter || RESEND_SECONDS)
        step.value = 1
        ElMessage.warning(e.message)
      } else {
        server.report(e, 'account')
      }
    } finally {
      sending.value = false
    }
  }

  async function submit() {
    if (!(await formRef.value?.validate().catch(() => false))) return
    submitting.value = true
    server.clear()
    try {
      await confirmPasswordReset({ account: form.account.trim(), code: form.code.trim(), newPassword: form.newPassword })
      // Any session of this browser is over: the new password must be used.
      useUserStore().reset()
      ElMessage.success(t('forgot.done'))
      await router.replace('/login')
    } catch (e) {
      server.report(e, 'code')
    } finally {
      submitting.value = false
    }
  }

  function back() {
    step.value = 0
    server.clear()
  }

  return { step, form, rules, countdown, sending, submitting, resetUrl, serverErrors: server.errors, sendCode, submit, back }
}
