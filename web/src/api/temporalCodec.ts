import { http } from './http'
import type { components } from './schema'

export type TemporalCodecSession = components['schemas']['TemporalCodecSession']

/**
 * Lets this browser decode workflow payloads in the Temporal UI for an hour:
 * the answer sets an HttpOnly cookie for the codec endpoint (audited).
 */
export const createTemporalCodecSession = () =>
  http.post<TemporalCodecSession>('/api/admin/temporal-codec/session')

/**
 * Opens the Temporal UI in a new tab, signed in to the codec endpoint. The tab
 * is opened before the request so that popup blockers still count the
 * click; it never gets a handle back to the console.
 */
export async function openTemporalUi(): Promise<TemporalCodecSession | null> {
  const tab = window.open('', '_blank')
  try {
    const session = await createTemporalCodecSession()
    if (!session.temporalUiUrl) {
      tab?.close()
      return session
    }
    if (tab) {
      tab.opener = null
      tab.location.href = session.temporalUiUrl
    } else {
      window.open(session.temporalUiUrl, '_blank', 'noopener')
    }
    return session
  } catch {
    tab?.close()
    return null // the http instance has shown the error
  }
}
