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
