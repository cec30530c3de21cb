import { getCurrentInstance, onBeforeUnmount, ref } from 'vue'

/** The time (ms), ticking every `intervalMs` while the component lives: running durations count up with it. */
export function useNow(intervalMs = 1000) {
  const now = ref(Date.now())
  const timer = setInterval(() => {
    now.value = Date.now()
  }, intervalMs)
  if (getCurrentInstance()) onBeforeUnmount(() => clearInterval(timer))
  return now
}
