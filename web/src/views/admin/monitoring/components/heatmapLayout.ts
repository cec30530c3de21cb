// Where the heat map draws each GPU: machines are columns of GPU cells, laid
// left to right and wrapped into bands, with the largest cell that lets the
// whole fleet fit the height allowed. Plain arithmetic, so that drawing and
// finding the cell under the pointer agree and can be tested.

export interface HeatmapLayout {
  /** cell side, CSS px */
  cell: number
  /** space between machines and between a band's GPU rows */
  gap: number
  /** left margin for the GPU labels */
  gutter: number
  /** machines per band */
  perBand: number
  bands: number
  /** one band's height with the space below it */
  bandHeight: number
  rows: number
  width: number
  height: number
}

export const MIN_CELL = 4
export const MAX_CELL = 28
const BAND_GAP = 8

export function layoutHeatmap(machines: number, rows: number, width: number, maxHeight = 460): HeatmapLayout {
  const n = Math.max(1, machines)
  const r = Math.max(1, rows)
  let best: HeatmapLayout | null = null
  for (let cell = MAX_CELL; cell >= MIN_CELL; cell--) {
    const gap = cell >= 12 ? 2 : 1
    const gutter = cell >= 12 ? 48 : 0
    const perBand = Math.max(1, Math.floor((width - gutter + gap) / (cell + gap)))
    const bands = Math.ceil(n / perBand)
    const bandHeight = r * (cell + gap) - gap + BAND_GAP
    const height = bands * bandHeight - BAND_GAP
    best = { cell, gap, gutter, perBand, bands, bandHeight, rows: r, width, height }
    if (height <= maxHeight) break
  }
  return best!
}

/** The top-left corner of a machine's GPU cell. */
export function cellOrigin(l: HeatmapLayout, machine: number, gpu: number): [number, number] {
  const band = Math.floor(machine / l.perBand)
  const col = machine % l.perBand
  return [l.gutter + col * (l.cell + l.gap), band * l.bandHeight + gpu * (l.cell + l.gap)]
}

/** The machine and GPU under a point, or null between cells and outside the map. */
export function cellAt(l: HeatmapLayout, x: number, y: number, machines: number): { machine: number; gpu: number } | null {
  if (x < l.gutter || y < 0) return null
  const band = Math.floor(y / l.bandHeight)
  const inBand = y - band * l.bandHeight
  const gpu = Math.floor(inBand / (l.cell + l.gap))
  if (gpu >= l.rows || inBand - gpu * (l.cell + l.gap) > l.cell) return null
  const col = Math.floor((x - l.gutter) / (l.cell + l.gap))
  if (col >= l.perBand || x - l.gutter - col * (l.cell + l.gap) > l.cell) return null
  const machine = band * l.perBand + col
  return machine < machines ? { machine, gpu } : null
}

/** Colours from idle to saturated, and for a GPU that does not report. */
export const HEAT_STOPS = ['#e8f5e9', '#a5d6a7', '#ffe082', '#ffb74d', '#f4511e', '#b71c1c']
export const NO_DATA_COLOUR = '#e4e7ed'

function hex(c: string): [number, number, number] {
  const v = parseInt(c.slice(1), 16)
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255]
}

/** The colour of every whole percent, computed once. */
export const HEAT_COLOURS: string[] = Array.from({ length: 101 }, (_, pct) => {
  const pos = (pct / 100) * (HEAT_STOPS.length - 1)
  const i = Math.min(HEAT_STOPS.length - 2, Math.floor(pos))
  const f = pos - i
  const a = hex(HEAT_STOPS[i]!)
  const b = hex(HEAT_STOPS[i + 1]!)
  const mix = a.map((x, k) => Math.round(x + (b[k]! - x) * f))
  return `rgb(${mix[0]},${mix[1]},${mix[2]})`
})

export function heatColour(util: number): string {
  if (!(util >= 0)) return NO_DATA_COLOUR
  return HEAT_COLOURS[Math.min(100, Math.round(util))]!
}
