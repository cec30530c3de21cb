// The actions on one machine shared by the machine list and the machine
// detail page: each confirms first where it changes something, and calls
// `changed` afterwards so the page reloads.
import { reactive } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import {
  deleteMachine,
  endMaintenance,
  reclaimMachine,
  resetMachinePassword,
  revealMachinePassword,
  rotateAgentToken,
} from '@/api/machines'
import type { AgentBootstrap, Machine, PasswordReset } from '@/api/types'
import type { OnceItem } from '@/components/SecretOnceDialog.vue'
import { confirmAction, promptReason } from '@/utils/confirm'
import { formatTime } from '@/utils/format'

export interface MachineDialogs {
  allocate: { visible: boolean; machine: Machine | null }
  maintenance: { visible: boolean; machine: Machine | null }
  ssh: { visible: boolean; machine: Machine | null }
  once: { visible: boolean; title: string; hint: string; items: OnceItem[] }
  /** 重置密码's answer: pending, applied or failed on the host (never the password itself) */
  reset: { visible: boolean; machine: Machine | null; result: PasswordReset | null }
  reinstalled: { visible: boolean; machine: Machine | null }
}

/** The one-time token dialog's hint: shown once, and until when it works (BOOTSTRAP_TOKEN_TTL). */
export function bootstrapHint(t: (key: string, values?: Record<string, unknown>) => string, expiresAt: string | undefined) {
  const hint = t('machine.agentTokenHint')
  return expiresAt ? `${hint} ${t('machine.agentTokenExpires', { time: formatTime(expiresAt) })}` : hint
}

export function useMachineActions(changed: (what: 'deleted' | 'updated') => unknown) {
  const { t } = useI18n()

  const dialogs = reactive<MachineDialogs>({
    allocate: { visible: false, machine: null },
    maintenance: { visible: false, machine: null },
    ssh: { visible: false, machine: null },
    once: { visible: false, title: '', hint: '', items: [] },
    reset: { visible: false, machine: null, result: null },
    reinstalled: { visible: false, machine: null },
  })

  const open = (which: 'allocate' | 'maintenance' | 'ssh', m: Machine) => {
    dialogs[which].machine = m
    dialogs[which].visible = true
  }

  /** The SSH password, fetched for showing or copying (audited). */
  const revealPassword = async (m: Machine) => (await revealMachinePassword(m.id)).password

  async function remove(m: Machine) {
    const ok = await confirmAction(t('machine.confirmDelete', { name: m.name }), { danger: true, confirmText: t('common.delete') })
    if (!ok) return
    try {
      await deleteMachine(m.id)
      ElMessage.success(t('common.deleted'))
      await changed('deleted')
    } catch {
      // 409 (still allocated): the API's message is shown by the HTTP layer
    }
  }

  async function reclaim(m: Machine) {
    const reason = await promptReason(
      t('machine.confirmReclaim', { name: m.name, customer: m.allocation?.customer ?? '' }),
      { danger: true, confirmText: t('machine.reclaim'), title: t('machine.reclaim') },
    )
    if (reason === null) return
    try {
      // 202: the lease has ended; the machine stays in maintenance while its host is cleaned
      await reclaimMachine(m.id, reason)
      ElMessage.success(t('machine.reclaimAccepted'))
      await changed('updated')
    } catch {
      // reported by the HTTP layer
    }
  }

  async function finishMaintenance(m: Machine) {
    if (!(await confirmAction(t('machine.confirmEndMaintenance', { name: m.name })))) return
    try {
      await endMaintenance(m.id)
      ElMessage.success(t('machine.maintenanceEnded'))
      await changed('updated')
    } catch {
      // reported by the HTTP layer
    }
  }

  function showBootstrap(m: Machine, boot: AgentBootstrap) {
    Object.assign(dialogs.once, {
      visible: true,
      title: t('machine.agentTokenTitle', { name: m.name }),
      hint: bootstrapHint(t, boot.expiresAt),
      items: [
        { label: t('machine.agentToken'), value: boot.agentToken, testid: 'agent-token' },
        { label: t('machine.installCommand'), value: boot.installCommand, testid: 'install-command' },
      ],
    })
  }

  /**
   * 重置密码 goes through the host's agent: the dialog shows whether the host
   * applied it (and then lets the admin reveal it), or waits for it.
   */
  async function resetPassword(m: Machine) {
    const ok = await confirmAction(t('machine.confirmResetPassword', { name: m.name }), { danger: true })
    if (!ok) return
    try {
      const result = await resetMachinePassword(m.id)
      Object.assign(dialogs.reset, { visible: true, machine: m, result })
      await changed('updated')
    } catch {
      // reported by the HTTP layer
    }
  }

  /** 标记为已重装 (a machine whose lease cleanup runs). */
  function openReinstalled(m: Machine) {
    dialogs.reinstalled.machine = m
    dialogs.reinstalled.visible = true
  }

  /** A new bootstrap token; `ask` false when the admin just chose it (after marking the machine reinstalled). */
  async function reissueToken(m: Machine, ask = true) {
    if (ask && !(await confirmAction(t('machine.confirmReissueToken', { name: m.name }), { danger: true }))) return
    try {
      showBootstrap(m, await rotateAgentToken(m.id))
      await changed('updated')
    } catch {
      // reported by the HTTP layer
    }
  }

  return {
    dialogs,
    openAllocate: (m: Machine) => open('allocate', m),
    openMaintenance: (m: Machine) => open('maintenance', m),
    openSsh: (m: Machine) => open('ssh', m),
    revealPassword,
    remove,
    reclaim,
    finishMaintenance,
    resetPassword,
    openReinstalled,
    reissueToken,
    showBootstrap,
  }
}

export type MachineActions = ReturnType<typeof useMachineActions>
