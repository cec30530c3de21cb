import { afterEach, describe, expect, it, vi } from 'vitest'

vi.mock('./http', () => ({ http: { post: vi.fn() } }))
const { http } = await import('./http')
const { openTemporalUi } = await import('./temporalCodec')

function fakeTab() {
  return { opener: {} as unknown, location: { href: '' }, close: vi.fn() }
}

describe('openTemporalUi', () => {
  afterEach(() => vi.restoreAllMocks())

  it('opens the tab during the click, then sends it to the UI without a handle back', async () => {
    const tab = fakeTab()
    const order: string[] = []
    vi.spyOn(window, 'open').mockImplementation(() => {
      order.push('open')
      return tab as unknown as Window
    })
    vi.mocked(http.post).mockImplementation(async () => {
      order.push('session')
      return { temporalUiUrl: 'http://127.0.0.1:8233', codecEndpoint: '/api/temporal-codec', expiresAt: '' }
    })
    const session = await openTemporalUi()
    expect(order).toEqual(['open', 'session'])
    expect(http.post).toHaveBeenCalledWith('/api/admin/temporal-codec/session')
    expect(tab.opener).toBeNull()
    expect(tab.location.href).toBe('http://127.0.0.1:8233')
    expect(session?.temporalUiUrl).toBe('http://127.0.0.1:8233')
  })

  it('closes the tab when the UI is not configured or the request fails', async () => {
    const tab = fakeTab()
    vi.spyOn(window, 'open').mockReturnValue(tab as unknown as Window)
    vi.mocked(http.post).mockResolvedValueOnce({ temporalUiUrl: '', codecEndpoint: '', expiresAt: '' })
    expect((await openTemporalUi())?.temporalUiUrl).toBe('')
    expect(tab.close).toHaveBeenCalledTimes(1)

    vi.mocked(http.post).mockRejectedValueOnce(new Error('403'))
    expect(await openTemporalUi()).toBeNull()
    expect(tab.close).toHaveBeenCalledTimes(2)
    expect(tab.location.href).toBe('')
  })
})
