// The latest password reset (重置密码) of a machine, read again every 2 s
// while it waits for the host agent and the caller is looking (the reset
// dialog is open, the detail page is shown); it stops on its own when the
// host answered, when the caller stops looking, and when its scope ends.
import { usePoll } from '@/composables/usePoll'
import { getPasswordReset } from '@/api/machines'
import type { PasswordReset } from '@/api/types'

export const RESET_POLL_MS = 2000

export function usePasswordResetPoll(opts: { machineId: () => string | null | undefined; active: () => boolean }) {
  const { value: result, load, stop } = usePoll<PasswordReset>({
    key: opts.machineId,
    read: (id) => getPasswordReset(id, { silent: true }),
    again: (r) => r?.status === 'pending',
    every: RESET_POLL_MS,
    active: opts.active,
  })
  return { result, load, stop }
}
