// 查看详情 / 续期 / 提前回收 of an allocation, shared by the records page and
// the customer and machine pages that list allocations.
import { reactive } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import { reclaimAllocation } from '@/api/allocations'
import type { Allocation } from '@/api/types'
import { promptReason } from '@/utils/confirm'

/** Whether the lease can still be renewed or reclaimed. */
export const isLive = (a: Allocation) => a.status === 'active' || a.status === 'pending'

export function useAllocationActions(changed: () => unknown) {
  const { t } = useI18n()
  const state = reactive<{
    drawer: { visible: boolean; id: string }
    extend: { visible: boolean; allocation: Allocation | null }
  }>({
    drawer: { visible: false, id: '' },
    extend: { visible: false, allocation: null },
  })

  function showDetail(a: Allocation) {
    state.drawer.id = a.id
    state.drawer.visible = true
  }

  function openExtend(a: Allocation) {
    state.extend.allocation = a
    state.extend.visible = true
  }

  async function reclaim(a: Allocation) {
    const reason = await promptReason(t('allocation.confirmReclaim', { machine: a.machineName, customer: a.customer }), {
      title: t('allocation.reclaim'),
      danger: true,
      confirmText: t('allocation.reclaim'),
    })
    if (reason === null) return
    try {
      // 202: the lease has ended; the host's cleanup goes on (the drawer shows its steps)
      await reclaimAllocation(a.id, reason)
      ElMessage.success(t('allocation.reclaimAccepted'))
      await changed()
    } catch {
      // reported by the HTTP layer
    }
  }

  return { state, showDetail, openExtend, reclaim }
}

export type AllocationActions = ReturnType<typeof useAllocationActions>
