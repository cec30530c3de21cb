// The end-of-lease steps on the host, as the allocation records them: since
// the host channel each step has a state (pending, confirmed, failed,
// skipped) and the steps are stop_tenant, remove_ssh_keys, rotate_password
// and rotate_agent_key; older records have stop_tasks / rotate_password
// with only `confirmed`, which still read as confirmed or "no agent confirmation".
import type { Allocation, CleanupStatus, HostStep } from '@/api/types'

export type StepState = 'pending' | 'confirmed' | 'failed' | 'skipped' | 'unconfirmed'

export const stepState = (s: HostStep): StepState => {
  if (s.state) return s.state
  return s.confirmed ? 'confirmed' : 'unconfirmed'
}

/** The tag colour of a step's state. */
export const STEP_TAG: Record<StepState, 'success' | 'warning' | 'danger' | 'info'> = {
  confirmed: 'success',
  pending: 'warning',
  failed: 'danger',
  skipped: 'info',
  unconfirmed: 'warning',
}

/** The timeline dot colour of a step's state. */
export const STEP_DOT: Record<StepState, 'success' | 'warning' | 'danger' | 'info'> = STEP_TAG

/** A step the host has not (or not yet) confirmed: what an admin watches. */
export const isOutstanding = (s: HostStep) => ['pending', 'failed', 'unconfirmed'].includes(stepState(s))

export const CLEANUP_TAG: Record<CleanupStatus, 'success' | 'warning' | 'info'> = {
  none: 'info',
  running: 'warning',
  done: 'success',
  reinstalled: 'info',
}

/**
 * An allocation's end reason as shown: one the platform wrote (a reclaim
 * given none, the lease running out) by its code, translated; an admin's
 * own words as written.
 */
export const endReasonText = (a: Pick<Allocation, 'endReason' | 'endReasonCode'>, t: (key: string) => string): string =>
  a.endReasonCode ? t(`codes.${a.endReasonCode}`) : (a.endReason ?? '')
