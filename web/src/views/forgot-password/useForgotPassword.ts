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
  /** where directory (LDAP/AD) accounts reset their password, when the platform has a directory */
  const resetUrl = ref('')
  const server = useServerErrors(['account', 'code', 'newPassword'] as const)

  async function sendCode() {
    if (!(await formRef.value?.validateField('account').catch(() => false))) return
    sending.value = true
    server.clear()
    try {
      // The API answers the same for every account (it says nothing about
      // which exist); the mail goes out if the account can take one.
      const res = await requestPasswordReset(form.account.trim())
      resetUrl.value = res.directoryResetUrl ?? ''
      countdown.start(res.resendAfter || RESEND_SECONDS)
      step.value = 1
      ElMessage.success(t('forgot.codeSent', { minutes: Math.round((res.expiresIn || 600) / 60) }))
    } catch (e) {
      if (!isApiError(e)) throw e
      server.report(e, 'account')
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
