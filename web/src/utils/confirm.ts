import { ElMessageBox } from 'element-plus'
import { i18n } from '@/locales'

/** Ask before a destructive or significant action; resolves false when cancelled. */
export async function confirmAction(
  message: string,
  opts: { title?: string; danger?: boolean; confirmText?: string } = {},
): Promise<boolean> {
  const t = i18n.global.t
  try {
    await ElMessageBox.confirm(message, opts.title ?? t('common.confirmTitle'), {
      type: 'warning',
      confirmButtonText: opts.confirmText ?? t('common.confirm'),
      cancelButtonText: t('common.cancel'),
      confirmButtonClass: opts.danger ? 'el-button--danger' : undefined,
      autofocus: false,
    })
    return true
  } catch {
    return false
  }
}

/**
 * Ask for a reason before an action (reclaim): resolves to the trimmed reason,
 * or null when cancelled. The reason is required and at most `max` characters.
 */
export async function promptReason(
  message: string,
  opts: { title?: string; danger?: boolean; confirmText?: string; placeholder?: string; max?: number } = {},
): Promise<string | null> {
  const t = i18n.global.t
  const max = opts.max ?? 500
  try {
    const { value } = await ElMessageBox.prompt(message, opts.title ?? t('common.confirmTitle'), {
      type: 'warning',
      confirmButtonText: opts.confirmText ?? t('common.confirm'),
      cancelButtonText: t('common.cancel'),
      confirmButtonClass: opts.danger ? 'el-button--danger' : undefined,
      inputPlaceholder: opts.placeholder ?? t('common.reasonPlaceholder'),
      inputType: 'textarea',
      inputValidator: (v: string) => {
        if (!v || !v.trim()) return t('common.reasonRequired')
        if (v.length > max) return t('validation.maxLength', { n: max })
        return true
      },
      autofocus: true,
    })
    return String(value).trim()
  } catch {
    return null
  }
}
