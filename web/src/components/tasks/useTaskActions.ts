import { reactive } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import { deleteTask, restartTask, stopTask, type Task } from '@/api/tasks'
import { confirmAction } from '@/utils/confirm'

export type TaskAction = 'stop' | 'restart' | 'delete'

/**
 * The customer's stop, re-run and delete of a task, each after a
 * confirmation that says what it does; `changed` runs after each.
 */
export function useTaskActions(changed: (action: TaskAction, task: Pick<Task, 'id' | 'name'>) => void | Promise<void>) {
  const { t } = useI18n()
  /** the task id an action is running for, per action */
  const busy = reactive<Record<TaskAction, string>>({ stop: '', restart: '', delete: '' })

  async function run(action: TaskAction, task: Pick<Task, 'id' | 'name'>, call: () => Promise<unknown>, done: string) {
    busy[action] = task.id
    try {
      await call()
      ElMessage.success(done)
      await changed(action, task)
    } catch {
      // the HTTP layer has said why (409: it ended, or it is still running)
    } finally {
      busy[action] = ''
    }
  }

  async function stop(task: Pick<Task, 'id' | 'name'>) {
    if (!(await confirmAction(t('task.confirm.stop', { name: task.name }), { danger: true, confirmText: t('task.actions.stop') }))) return
    await run('stop', task, () => stopTask(task.id), t('task.done.stop'))
  }

  async function restart(task: Pick<Task, 'id' | 'name'>) {
    if (!(await confirmAction(t('task.confirm.restart', { name: task.name }), { confirmText: t('task.actions.restart') }))) return
    await run('restart', task, () => restartTask(task.id), t('task.done.restart'))
  }

  async function remove(task: Pick<Task, 'id' | 'name'>) {
    if (!(await confirmAction(t('task.confirm.delete', { name: task.name }), { danger: true, confirmText: t('common.delete') }))) return
    await run('delete', task, () => deleteTask(task.id), t('common.deleted'))
  }

  return { busy, stop, restart, remove }
}
