// 确认 / 标记已处理 / 忽略 of an alert, each after a confirmation; shared by
// the alert management page and the dashboard's alert centre.
import { ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import { acknowledgeAlert, ignoreAlert, resolveAlert } from '@/api/alerts'
import type { Alert } from '@/api/types'
import { confirmAction } from '@/utils/confirm'

export type AlertAction = 'acknowledge' | 'resolve' | 'ignore'

const calls = { acknowledge: acknowledgeAlert, resolve: resolveAlert, ignore: ignoreAlert }
const done = { acknowledge: 'alert.acknowledged', resolve: 'alert.resolvedMsg', ignore: 'alert.ignoredMsg' } as const
const asks = { acknowledge: 'alert.confirmAcknowledge', resolve: 'alert.confirmResolve', ignore: 'alert.confirmIgnore' } as const

export function useAlertActions(changed: (alert: Alert) => unknown) {
  const { t } = useI18n()
  /** the alert whose action is being sent */
  const busy = ref<string | null>(null)

  async function run(action: AlertAction, a: Alert) {
    const what = { machine: a.machineName, type: t(`alertType.${a.type}`) }
    const ok = await confirmAction(t(asks[action], what), {
      title: t(`alert.${action}`),
      danger: action === 'ignore',
      confirmText: t(`alert.${action}`),
    })
    if (!ok) return
    busy.value = a.id
    try {
      const updated = await calls[action](a.id)
      ElMessage.success(t(done[action]))
      await changed(updated)
    } catch {
      // reported by the HTTP layer (409: someone else was faster)
      await changed(a)
    } finally {
      busy.value = null
    }
  }

  return {
    busy,
    acknowledge: (a: Alert) => run('acknowledge', a),
    resolve: (a: Alert) => run('resolve', a),
    ignore: (a: Alert) => run('ignore', a),
  }
}

export type AlertActions = ReturnType<typeof useAlertActions>
