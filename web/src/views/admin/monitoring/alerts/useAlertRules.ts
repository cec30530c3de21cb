import { reactive, ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import { getAlertRules, updateAlertRules } from '@/api/alerts'
import type { AlertLevel, AlertRule, AlertRuleInput, AlertType } from '@/api/types'
import { describeError, isApiError } from '@/api/http'
import { ALERT_TYPES, hasThreshold, type ThresholdType } from './alertText'

/** One line of the form. */
export interface RuleRow {
  type: AlertType
  enabled: boolean
  level: AlertLevel
  /** °C or %; null for offline and lease_cleanup */
  threshold: number | null
  durationSeconds: number
  updatedBy: string
  updatedAt: string
}

/** The threshold's bounds and unit by type (as the API checks them). */
export const THRESHOLDS: Record<ThresholdType, { min: number; max: number; unit: string }> = {
  gpu_temperature: { min: 30, max: 130, unit: '°C' },
  disk_usage: { min: 1, max: 100, unit: '%' },
  memory_usage: { min: 1, max: 100, unit: '%' },
}
export const MAX_DURATION = 86400

const toRow = (r: AlertRule): RuleRow => ({
  type: r.type,
  enabled: r.enabled,
  level: r.level,
  threshold: r.threshold,
  durationSeconds: r.durationSeconds,
  updatedBy: r.updatedBy,
  updatedAt: r.updatedAt,
})

/** The PUT body's rules: every line, the threshold left out for offline and lease_cleanup (the API keeps theirs null). */
export function rulesInput(rows: RuleRow[]): AlertRuleInput[] {
  return rows.map((r) => ({
    type: r.type,
    level: r.level,
    enabled: r.enabled,
    durationSeconds: r.durationSeconds,
    ...(!hasThreshold(r.type) || r.threshold === null ? {} : { threshold: r.threshold }),
  }))
}

/**
 * The 告警规则配置 form (2.1.5.2): GPU temperature, disk usage, memory usage,
 * offline, and lease cleanup overdue (raised after the duration when a
 * lease's end-of-lease cleanup is still unconfirmed by the host).
 */
export function useAlertRules() {
  const { t } = useI18n()
  const rows = ref<RuleRow[]>([])
  const loading = ref(false)
  const saving = ref(false)
  const loadFailed = ref(false)
  /** the API's field errors by `<type>.<field>` */
  const errors = reactive<Record<string, string>>({})

  function show(list: AlertRule[] | null) {
    const byType = new Map((list ?? []).map((r) => [r.type, r]))
    rows.value = ALERT_TYPES.flatMap((type) => {
      const r = byType.get(type)
      return r ? [toRow(r)] : []
    })
  }

  async function load() {
    loading.value = true
    try {
      show(await getAlertRules())
      loadFailed.value = false
    } catch {
      loadFailed.value = true
    } finally {
      loading.value = false
    }
  }

  function validate(): boolean {
    for (const k of Object.keys(errors)) delete errors[k]
    for (const r of rows.value) {
      if (hasThreshold(r.type)) {
        const b = THRESHOLDS[r.type]
        if (r.threshold === null || r.threshold < b.min || r.threshold > b.max) {
          errors[`${r.type}.threshold`] = t('validation.between', { min: b.min, max: b.max })
        }
      }
      if (!Number.isInteger(r.durationSeconds) || r.durationSeconds < 0 || r.durationSeconds > MAX_DURATION) {
        errors[`${r.type}.durationSeconds`] = t('validation.between', { min: 0, max: MAX_DURATION })
      }
    }
    return Object.keys(errors).length === 0
  }

  async function save() {
    if (!validate()) return false
    saving.value = true
    try {
      show(await updateAlertRules(rulesInput(rows.value)))
      ElMessage.success(t('alertRule.saved'))
      return true
    } catch (e) {
      if (!isApiError(e)) throw e
      // body.rules[2].threshold → the line's field
      let placed = false
      for (const fe of e.fieldErrors) {
        const m = /rules\[(\d+)\]\.(\w+)/.exec(fe.location)
        const row = m ? rows.value[Number(m[1])] : undefined
        if (row && m) {
          errors[`${row.type}.${m[2]}`] = fe.message
          placed = true
        }
      }
      if (!placed && !e.notified) ElMessage.error(describeError(e))
      return false
    } finally {
      saving.value = false
    }
  }

  void load()

  return { rows, loading, saving, loadFailed, errors, load, save }
}
