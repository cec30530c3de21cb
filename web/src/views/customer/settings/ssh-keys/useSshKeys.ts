import { reactive, ref, shallowRef, useTemplateRef } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage, type FormInstance, type FormRules } from 'element-plus'
import { createSshKey, deleteSshKey, listSshKeys } from '@/api/sshKeys'
import type { SshKey } from '@/api/types'
import { useServerErrors } from '@/composables/useServerErrors'
import { confirmAction } from '@/utils/confirm'
import { maxLength, required } from '@/utils/rules'

/** A quick look before the API's own check: `<type> <base64> [comment]`. */
const KEY_SHAPE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)\s+[A-Za-z0-9+/]+={0,3}(\s+.*)?$/

/** The comment of a public key line, a default name for it. */
export function keyComment(publicKey: string): string {
  const parts = publicKey.trim().split(/\s+/)
  return parts.length > 2 ? parts.slice(2).join(' ') : ''
}

export function useSshKeys() {
  const { t } = useI18n()
  const list = shallowRef<SshKey[]>([])
  const loading = ref(false)

  async function load() {
    loading.value = true
    try {
      list.value = (await listSshKeys()).list ?? []
    } catch {
      // reported by the HTTP layer; keep what is on screen
    } finally {
      loading.value = false
    }
  }
  void load()

  const dialog = ref(false)
  const formRef = useTemplateRef<FormInstance>('formRef')
  const form = reactive({ name: '', publicKey: '' })
  const rules: FormRules<typeof form> = {
    name: [required('sshKey.name'), maxLength(100)],
    publicKey: [
      required('sshKey.publicKey'),
      {
        trigger: 'blur',
        validator: (_r, v: string, cb) => (!v || KEY_SHAPE.test(v.trim()) ? cb() : cb(new Error(t('sshKey.badShape')))),
      },
    ],
  }
  const server = useServerErrors(['name', 'publicKey'] as const)
  const saving = ref(false)

  function open() {
    Object.assign(form, { name: '', publicKey: '' })
    server.clear()
    formRef.value?.clearValidate()
    dialog.value = true
  }

  function onKeyInput() {
    server.errors.publicKey = ''
    if (!form.name) form.name = keyComment(form.publicKey)
  }

  async function save() {
    if (!(await formRef.value?.validate().catch(() => false))) return
    saving.value = true
    server.clear()
    try {
      await createSshKey({ name: form.name.trim(), publicKey: form.publicKey.trim() })
      ElMessage.success(t('sshKey.added'))
      dialog.value = false
      await load()
    } catch (e) {
      // 400 invalid key, 409 duplicate: the API's message under the key
      server.report(e, 'publicKey')
    } finally {
      saving.value = false
    }
  }

  async function remove(k: SshKey) {
    const ok = await confirmAction(t('sshKey.confirmDelete', { name: k.name }), {
      danger: true,
      confirmText: t('common.delete'),
    })
    if (!ok) return
    try {
      await deleteSshKey(k.id)
      ElMessage.success(t('common.deleted'))
      await load()
    } catch {
      // reported by the HTTP layer
    }
  }

  return { list, loading, load, dialog, form, rules, serverErrors: server.errors, saving, open, onKeyInput, save, remove }
}
