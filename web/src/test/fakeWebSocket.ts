// A WebSocket for component tests: installed as the global one, it records
// every socket the page opens; the test opens them and sends frames.
import { vi } from 'vitest'

export class FakeWebSocket {
  static sockets: FakeWebSocket[] = []
  onopen: ((ev: Event) => void) | null = null
  onmessage: ((ev: MessageEvent) => void) | null = null
  onclose: ((ev: CloseEvent) => void) | null = null
  onerror: ((ev: Event) => void) | null = null
  closed = false

  constructor(readonly url: string) {
    FakeWebSocket.sockets.push(this)
  }

  open() {
    this.onopen?.(new Event('open'))
  }

  send(frame: unknown) {
    this.onmessage?.({ data: JSON.stringify(frame) } as MessageEvent)
  }

  drop(code: number, reason = '') {
    this.onclose?.({ code, reason } as CloseEvent)
  }

  close() {
    this.closed = true
  }

  static last(): FakeWebSocket | undefined {
    return FakeWebSocket.sockets[FakeWebSocket.sockets.length - 1]
  }
}

export function installFakeWebSocket() {
  FakeWebSocket.sockets = []
  vi.stubGlobal('WebSocket', FakeWebSocket)
}
