import { reactive } from 'vue'
import { ElMessage } from 'element-plus'
import { describeError, fieldText, isApiError } from '@/api/http'

/**
 * Errors of a form submission shown where they belong: the API's
 * `data.errors[].location` (`body.owner.email`) becomes the field key
 * `owner.email`, which an el-form-item shows through `:error`.
 */
export function useServerErrors<K extends string>(fields: readonly K[]) {
  const errors = reactive({}) as Record<K, string>
  const known = new Set<string>(fields)

  function clear() {
    for (const f of fields) errors[f] = ''
  }
  clear()

  /**
   * Show an error of a submission. Field errors go to their fields; an error
   * with no known field goes to `fallback` when given, else to a toast —
   * unless the HTTP layer has already shown it.
   */
  function report(err: unknown, fallback?: K) {
    clear()
    if (!isApiError(err)) throw err
    let placed = false
    for (const fe of err.fieldErrors) {
      let key = fe.location.replace(/^body\./, '')
      // an item of a list (`machineIds[1]`) is shown at the list
      if (!known.has(key)) key = key.replace(/(\[\d+\]|\.\d+)$/, '')
      if (known.has(key)) {
        const text = fieldText(fe)
        errors[key as K] = errors[key as K] ? `${errors[key as K]}; ${text}` : text
        placed = true
      }
    }
    if (placed || err.notified) return
    if (fallback) errors[fallback] = describeError(err)
    else ElMessage.error(describeError(err))
  }

  return { errors, clear, report }
}
