// MD5 in plain JavaScript, incremental. The console's Content-Security-Policy
// (script-src 'self', no 'wasm-unsafe-eval') does not let hash-wasm compile
// its WebAssembly in the browser; this is what hashes there. Same digests.

const S = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
const K = new Int32Array(64)
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0

export class Md5 {
  private h = new Int32Array(4)
  private buf = new Uint8Array(64)
  private bufLen = 0
  private total = 0
  private w = new Int32Array(16)

  constructor() {
    this.init()
  }

  init() {
    this.h[0] = 0x67452301
    this.h[1] = 0xefcdab89 | 0
    this.h[2] = 0x98badcfe | 0
    this.h[3] = 0x10325476
    this.bufLen = 0
    this.total = 0
    return this
  }

  update(data: Uint8Array) {
    let off = 0
    this.total += data.length
    if (this.bufLen) {
      const take = Math.min(64 - this.bufLen, data.length)
      this.buf.set(data.subarray(0, take), this.bufLen)
      this.bufLen += take
      off = take
      if (this.bufLen < 64) return this
      this.block(this.buf, 0)
      this.bufLen = 0
    }
    for (; off + 64 <= data.length; off += 64) this.block(data, off)
    if (off < data.length) {
      this.buf.set(data.subarray(off), 0)
      this.bufLen = data.length - off
    }
    return this
  }

  digest(): string {
    const bits = this.total * 8
    const pad = new Uint8Array((this.bufLen < 56 ? 56 : 120) - this.bufLen + 8)
    pad[0] = 0x80
    const lo = bits >>> 0
    const hi = Math.floor(bits / 2 ** 32) >>> 0
    const n = pad.length
    for (let i = 0; i < 4; i++) {
      pad[n - 8 + i] = (lo >>> (8 * i)) & 0xff
      pad[n - 4 + i] = (hi >>> (8 * i)) & 0xff
    }
    const total = this.total
    this.update(pad)
    this.total = total
    let hex = ''
    for (let i = 0; i < 4; i++) for (let b = 0; b < 4; b++) hex += ((this.h[i] >>> (8 * b)) & 0xff).toString(16).padStart(2, '0')
    return hex
  }

  private block(d: Uint8Array, o: number) {
    const w = this.w
    for (let i = 0; i < 16; i++) w[i] = d[o + i * 4] | (d[o + i * 4 + 1] << 8) | (d[o + i * 4 + 2] << 16) | (d[o + i * 4 + 3] << 24)
    let a = this.h[0]
    let b = this.h[1]
    let c = this.h[2]
    let dd = this.h[3]
    for (let i = 0; i < 64; i++) {
      let f: number
      let g: number
      if (i < 16) {
        f = (b & c) | (~b & dd)
        g = i
      } else if (i < 32) {
        f = (dd & b) | (~dd & c)
        g = (5 * i + 1) & 15
      } else if (i < 48) {
        f = b ^ c ^ dd
        g = (3 * i + 5) & 15
      } else {
        f = c ^ (b | ~dd)
        g = (7 * i) & 15
      }
      const tmp = dd
      dd = c
      c = b
      const x = (a + f + K[i] + w[g]) | 0
      b = (b + ((x << S[i]) | (x >>> (32 - S[i])))) | 0
      a = tmp
    }
    this.h[0] = (this.h[0] + a) | 0
    this.h[1] = (this.h[1] + b) | 0
    this.h[2] = (this.h[2] + c) | 0
    this.h[3] = (this.h[3] + dd) | 0
  }
}
