import { computed, reactive, ref, useTemplateRef } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage, type FormInstance, type FormRules } from 'element-plus'
import { changePassword, getProfile, updateProfile } from '@/api/profile'
import type { Me } from '@/api/types'
import { useServerErrors } from '@/composables/useServerErrors'
import { useUserStore } from '@/store/modules/user'
import { emailRule, maxLength, passwordRule, phoneRule, required, sameAs } from '@/utils/rules'

export function useProfile() {
  const { t } = useI18n()
  const user = useUserStore()

  const me = computed(() => user.me)
  const company = computed(() => me.value?.company || me.value?.tenantName || '—')
  const isLdap = computed(() => me.value?.authSource === 'ldap')
  const loading = ref(false)

  /* ---- basic information ---- */
  const infoRef = useTemplateRef<FormInstance>('infoRef')
  const info = reactive({ name: '', email: '', phone: '', currentPassword: '' })
  /** The e-mail receives password reset codes: changing it takes the current password (local accounts). */
  const emailChanged = computed(
    () => !!me.value && info.email.trim().toLowerCase() !== (me.value.email ?? '').toLowerCase(),
  )
  const infoRules: FormRules<typeof info> = {
    name: [required('profile.name'), maxLength(100)],
    email: [required('profile.email'), emailRule()],
    phone: [phoneRule()],
    currentPassword: [required('profile.oldPassword')],
  }
  const infoServer = useServerErrors(['name', 'email', 'phone', 'currentPassword'] as const)
  const savingInfo = ref(false)

  function fill(m: Me) {
    Object.assign(info, { name: m.name, email: m.email, phone: m.phone, currentPassword: '' })
  }

  async function load(): Promise<Me | null> {
    loading.value = true
    try {
      const m = await getProfile()
      user.setMe(m)
      fill(m)
      return m
    } catch {
      if (user.me) fill(user.me)
      return user.me
    } finally {
      loading.value = false
    }
  }

  async function saveInfo() {
    if (!(await infoRef.value?.validate().catch(() => false))) return
    savingInfo.value = true
    infoServer.clear()
    try {
      const m = await updateProfile({
        name: info.name.trim(),
        email: info.email.trim(),
        phone: info.phone.trim(),
        ...(emailChanged.value ? { currentPassword: info.currentPassword } : {}),
      })
      user.setMe(m)
      fill(m)
      ElMessage.success(t('common.saved'))
    } catch (e) {
      infoServer.report(e)
    } finally {
      savingInfo.value = false
    }
  }

  /* ---- password ---- */
  const pwdRef = useTemplateRef<FormInstance>('pwdRef')
  const pwd = reactive({ oldPassword: '', newPassword: '', confirm: '' })
  const pwdRules: FormRules<typeof pwd> = {
    oldPassword: [required('profile.oldPassword')],
    newPassword: [required('profile.newPassword'), passwordRule(() => me.value?.username ?? '')],
    confirm: [required('profile.confirmPassword'), sameAs(() => pwd.newPassword)],
  }
  const pwdServer = useServerErrors(['oldPassword', 'newPassword'] as const)
  const savingPwd = ref(false)

  async function savePassword() {
    if (!(await pwdRef.value?.validate().catch(() => false))) return
    savingPwd.value = true
    pwdServer.clear()
    try {
      const res = await changePassword({ oldPassword: pwd.oldPassword, newPassword: pwd.newPassword })
      pwdRef.value?.resetFields()
      ElMessage.success({ message: t('profile.passwordChanged', { n: res.revokedSessions ?? 0 }), duration: 6000 })
    } catch (e) {
      // a wrong current password has no field location: show it at that field
      pwdServer.report(e, 'oldPassword')
    } finally {
      savingPwd.value = false
    }
  }

  return {
    me,
    company,
    isLdap,
    loading,
    load,
    info,
    emailChanged,
    infoRules,
    infoErrors: infoServer.errors,
    savingInfo,
    saveInfo,
    pwd,
    pwdRules,
    pwdErrors: pwdServer.errors,
    savingPwd,
    savePassword,
  }
}
