import { computed, markRaw, onBeforeUnmount, ref, shallowRef, watch, type Ref } from 'vue'
import type { TaskLogFrame, TaskLogPage, TaskLogParams, TaskStatus } from '@/api/tasks'
import { useLiveSocket } from '@/composables/useLiveSocket'
import type { SocketLike } from '@/utils/liveSocket'
import { createLineBatcher, LogBuffer, LOG_CAP } from './logBuffer'
import { isEnded } from './taskStatus'

/** Lines per page of GET …/logs (the API's maximum). */
export const LOG_PAGE = 5000

export interface TaskLogSource {
  /** GET …/logs: a page of lines */
  page(params: TaskLogParams): Promise<TaskLogPage>
  /** GET …/logs?format=text */
  download(attempt?: number): Promise<Blob>
  /** The live socket's path (the customer's); without it the log is polled (the admin's). */
  socketPath?(params: { attempt?: number; afterN?: number }): string
}

export interface UseTaskLogsOptions {
  source: TaskLogSource
  /** the task's status as the page knows it (null before it loaded) */
  status: Readonly<Ref<TaskStatus | null>>
  /** the task's latest attempt (0 before it loaded) */
  latestAttempt: Readonly<Ref<number>>
  /** file name of the download, without extension */
  fileName: () => string
  /** a status frame of the socket */
  onStatus?(status: TaskStatus): void
  /** lines of a newer attempt than the one shown arrived: the page reloads the task */
  onNewAttempt?(attempt: number): void
  /** the socket closed with 4404: the task was deleted (or is no longer the caller's) */
  onGone?(): void
  cap?: number
  /** poll interval of a task that has not ended, when there is no socket */
  pollMs?: number
  /** close the socket of an ended task once it has been quiet this long */
  quietCloseMs?: number
  createSocket?(url: string): SocketLike
}

/**
 * A task's log for the log viewer: the backlog of the attempt shown (latest
 * by default, or the one picked), then the live lines of its WebSocket (or,
 * without one, polled pages), batched per animation frame into a capped
 * buffer; a server-side search shows its matches in the same viewer.
 */
export function useTaskLogs(options: UseTaskLogsOptions) {
  const buffer = markRaw(new LogBuffer(options.cap ?? LOG_CAP))
  /** bumped whenever the buffer changed */
  const version = ref(0)
  const following = ref(true)
  /** the attempt picked; null follows the latest */
  const picked = ref<number | null>(null)
  const attempt = computed(() => picked.value ?? options.latestAttempt.value)
  const loading = ref(false)
  const failed = ref(false)
  /** the search box */
  const query = ref('')
  /** the search whose matches are shown; '' shows the log */
  const searched = ref('')
  /** a full page of matches came back: there may be more */
  const moreMatches = ref(false)
  const dropped = ref(0)
  const socketWanted = ref(false)
  const downloading = ref(false)
  /** the backlog or search is being read page by page */
  const error = shallowRef<unknown>(null)

  const pollMs = options.pollMs ?? 3000
  const quietCloseMs = options.quietCloseMs ?? 5000
  let generation = 0
  let pollTimer: ReturnType<typeof setTimeout> | null = null
  let quietTimer: ReturnType<typeof setTimeout> | null = null

  function changed() {
    dropped.value = buffer.dropped
    version.value++
  }

  const batcher = createLineBatcher((lines) => {
    if (buffer.append(lines)) changed()
  })

  const live = options.source.socketPath
    ? useLiveSocket<TaskLogFrame>({
        path: () =>
          socketWanted.value && attempt.value
            ? options.source.socketPath!({ attempt: attempt.value, afterN: buffer.lastN || undefined })
            : null,
        onFrame: onFrame,
        onGone: () => {
          socketWanted.value = false
          options.onGone?.()
        },
        createSocket: options.createSocket,
      })
    : null

  function onFrame(frame: TaskLogFrame) {
    if (frame.type === 'status') {
      options.onStatus?.(frame.status)
    } else if (frame.type === 'lines') {
      if (frame.attempt > attempt.value) options.onNewAttempt?.(frame.attempt)
      if (frame.attempt === attempt.value && frame.lines?.length) batcher.push(frame.lines)
    }
    armQuietClose()
  }

  /** An ended task's socket has nothing more to say once it has been quiet a while. */
  function armQuietClose() {
    if (quietTimer) clearTimeout(quietTimer)
    quietTimer = null
    if (!socketWanted.value || !isEnded(options.status.value)) return
    quietTimer = setTimeout(() => {
      quietTimer = null
      socketWanted.value = false
    }, quietCloseMs)
  }

  function stopFeeds() {
    generation++
    socketWanted.value = false
    if (pollTimer) clearTimeout(pollTimer)
    pollTimer = null
    if (quietTimer) clearTimeout(quietTimer)
    quietTimer = null
    batcher.cancel()
  }

  function resetView() {
    stopFeeds()
    buffer.reset()
    moreMatches.value = false
    failed.value = false
    error.value = null
    changed()
  }

  /**
   * Read up to maxPages pages after the newest line (stopping when the
   * generation moved on); true when there is more to read. The log's
   * `total` says how far it goes: one longer than the cap is read on from
   * its last `cap` lines (the search reads its matches from the start).
   */
  async function readPages(gen: number, params: TaskLogParams, maxPages: number): Promise<boolean> {
    for (let i = 0; i < maxPages; i++) {
      const page = await options.source.page({ ...params, attempt: attempt.value, afterN: buffer.lastN || undefined, limit: LOG_PAGE })
      if (gen !== generation) return false
      const lines = page.lines ?? []
      batcher.flush()
      let grew = lines.length > 0 && buffer.append(lines) > 0
      if (!params.q && page.total - buffer.lastN > buffer.cap) {
        buffer.skipTo(page.total - buffer.cap)
        grew = true
      }
      if (grew) changed()
      // more to read now: a full page of matches; lines stored past the last one read
      const more = params.q ? lines.length >= LOG_PAGE : buffer.lastN < page.total && (lines.length > 0 || grew)
      if (!more) return false
    }
    return true
  }

  /** The log of the attempt shown: its first page, then the socket (or polling). */
  async function open() {
    resetView()
    searched.value = ''
    if (!attempt.value) return
    const gen = generation
    loading.value = true
    try {
      const more = await readPages(gen, {}, 1)
      if (gen !== generation) return
      if (live) {
        socketWanted.value = true
        armQuietClose()
      } else {
        schedulePoll(gen, more ? 0 : pollMs)
      }
    } catch (e) {
      if (gen !== generation) return
      failed.value = true
      error.value = e
    } finally {
      if (gen === generation) loading.value = false
    }
  }

  /** Without a socket: the next pages; at once while catching up, else every pollMs until the task ended. */
  function schedulePoll(gen: number, delay: number) {
    if (pollTimer) clearTimeout(pollTimer)
    pollTimer = setTimeout(async () => {
      pollTimer = null
      if (gen !== generation) return
      const endedBefore = isEnded(options.status.value)
      try {
        const more = await readPages(gen, {}, 1)
        if (gen !== generation) return
        if (more) return schedulePoll(gen, 0)
        // an ended task whose log was read to the end after it ended has no more lines
        if (endedBefore) return
        schedulePoll(gen, pollMs)
      } catch {
        if (gen === generation) schedulePoll(gen, pollMs * 3)
      }
    }, delay)
  }

  /** Show the lines matching the search box (searched on the server), or the log again when it is empty. */
  async function search() {
    const q = query.value.trim()
    if (!q) return clearSearch()
    resetView()
    searched.value = q
    following.value = false
    await loadMatches()
  }

  async function loadMatches() {
    const gen = generation
    loading.value = true
    try {
      moreMatches.value = await readPages(gen, { q: searched.value }, 1)
    } catch (e) {
      if (gen !== generation) return
      failed.value = true
      error.value = e
    } finally {
      if (gen === generation) loading.value = false
    }
  }

  function clearSearch() {
    query.value = ''
    following.value = true
    return open()
  }

  function pickAttempt(n: number | null) {
    picked.value = n === options.latestAttempt.value ? null : n
  }

  async function download() {
    downloading.value = true
    try {
      const blob = await options.source.download(attempt.value || undefined)
      const url = URL.createObjectURL(blob)
      const a = document.createElement('a')
      a.href = url
      a.download = `${options.fileName()}-attempt-${attempt.value}.log`
      document.body.appendChild(a)
      a.click()
      a.remove()
      setTimeout(() => URL.revokeObjectURL(url), 1000)
    } catch {
      // the HTTP layer has told the user
    } finally {
      downloading.value = false
    }
  }

  // another attempt shown (picked, or a newer latest one): its log from the start
  watch(attempt, () => void open())
  // the task ended while the socket is open: close it once the last lines are in
  watch(
    () => options.status.value,
    () => {
      if (live && socketWanted.value) armQuietClose()
    },
  )

  onBeforeUnmount(stopFeeds)

  return {
    buffer,
    version,
    following,
    attempt,
    picked,
    loading,
    failed,
    error,
    query,
    searched,
    moreMatches,
    dropped,
    downloading,
    cap: buffer.cap,
    /** the socket's state for a LiveBadge; null when the log is polled */
    live,
    socketOpen: computed(() => socketWanted.value),
    open,
    search,
    loadMatches,
    clearSearch,
    pickAttempt,
    download,
    stop: stopFeeds,
  }
}

export type TaskLogs = ReturnType<typeof useTaskLogs>
