import { getCurrentInstance, onBeforeUnmount, readonly, ref, toValue, watch, type MaybeRefOrGetter } from 'vue'
import { isApiError, sessionEnded } from '@/api/http'
import { createWsTicket, wsUrl } from '@/api/ws'
import { LiveSocket, type EndReason, type LiveStatus, type SocketLike } from '@/utils/liveSocket'

export interface UseLiveSocketOptions<T> {
  /** The socket's path (`/ws/...`); null: not connected (no machine chosen). A change reconnects. */
  path: MaybeRefOrGetter<string | null>
  onFrame(frame: T): void
  /** 4403: the machine is no longer leased (the page says so; the socket stays closed). */
  onLeaseEnded?(): void
  /** 4404: what the socket follows was deleted (the socket stays closed). */
  onGone?(): void
  /** Close the socket after the page has been hidden this long; reconnect when it shows again. */
  hiddenPauseMs?: number
  minDelayMs?: number
  maxDelayMs?: number
  /** test hook */
  createSocket?(url: string): SocketLike
}

/**
 * A live WebSocket for a page: connected with a one-time ticket (the HTTP
 * layer refreshes the access token it is asked with), reconnected with backoff,
 * paused while the tab is hidden, closed when the page goes. A 4401 close
 * ends the session (to the login page); a 4403 close stops it with
 * `endReason` 'lease', a 4404 close with 'gone'. `status` drives the page's LiveBadge.
 */
export function useLiveSocket<T>(options: UseLiveSocketOptions<T>) {
  const status = ref<LiveStatus>('idle')
  const endReason = ref<EndReason | null>(null)
  const retryInMs = ref(0)
  /** when the last frame arrived (ms since the epoch) */
  const lastFrameAt = ref<number | null>(null)

  const socket = new LiveSocket<T>({
    url: (ticket) => wsUrl(toValue(options.path) ?? '', ticket),
    async ticket() {
      try {
        return (await createWsTicket()).ticket
      } catch (e) {
        // 401: the session is over (the HTTP layer has sent the user to the login page)
        if (isApiError(e) && e.status === 401) return null
        throw e
      }
    },
    onFrame(frame) {
      lastFrameAt.value = Date.now()
      options.onFrame(frame)
    },
    onStatus(s, retry) {
      status.value = s
      retryInMs.value = retry
    },
    onEnd(reason, detail) {
      endReason.value = reason
      if (reason === 'lease') options.onLeaseEnded?.()
      else if (reason === 'gone') options.onGone?.()
      // a 4401 close: the session was revoked (a missing token was already handled by the HTTP layer)
      else if (detail.code !== 0) sessionEnded()
    },
    minDelayMs: options.minDelayMs,
    maxDelayMs: options.maxDelayMs,
    createSocket: options.createSocket,
  })

  function start() {
    if (!toValue(options.path)) return
    endReason.value = null
    socket.start()
  }

  function restart() {
    socket.stop()
    lastFrameAt.value = null
    start()
  }

  // a hidden tab stops receiving after a while, and catches up when it shows again
  const hiddenPauseMs = options.hiddenPauseMs ?? 10_000
  let hiddenTimer: ReturnType<typeof setTimeout> | null = null
  function onVisibility() {
    if (hiddenTimer) clearTimeout(hiddenTimer)
    hiddenTimer = null
    if (document.visibilityState === 'hidden') {
      hiddenTimer = setTimeout(() => socket.pause(), hiddenPauseMs)
    } else {
      socket.resume()
    }
  }
  document.addEventListener('visibilitychange', onVisibility)

  watch(
    () => toValue(options.path),
    () => restart(),
  )

  function dispose() {
    document.removeEventListener('visibilitychange', onVisibility)
    if (hiddenTimer) clearTimeout(hiddenTimer)
    socket.stop()
  }
  if (getCurrentInstance()) onBeforeUnmount(dispose)

  start()

  return {
    status: readonly(status),
    endReason: readonly(endReason),
    retryInMs: readonly(retryInMs),
    lastFrameAt: readonly(lastFrameAt),
    restart,
    reconnectNow: () => socket.reconnectNow(),
    stop: dispose,
  }
}
