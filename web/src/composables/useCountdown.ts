import { computed, onBeforeUnmount, ref } from 'vue'

/** A seconds countdown (for "resend code" buttons). */
export function useCountdown() {
  const left = ref(0)
  let timer: ReturnType<typeof setInterval> | undefined

  function stop() {
    if (timer) clearInterval(timer)
    timer = undefined
    left.value = 0
  }

  function start(seconds: number) {
    stop()
    left.value = Math.max(0, Math.ceil(seconds))
    if (!left.value) return
    timer = setInterval(() => {
      left.value -= 1
      if (left.value <= 0) stop()
    }, 1000)
  }

  onBeforeUnmount(stop)
  return { left, running: computed(() => left.value > 0), start, stop }
}
