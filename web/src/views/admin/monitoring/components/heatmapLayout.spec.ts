import { describe, expect, it } from 'vitest'
import { cellAt, cellOrigin, HEAT_COLOURS, heatColour, layoutHeatmap, MAX_CELL, NO_DATA_COLOUR } from './heatmapLayout'

describe('heat map layout', () => {
  it('gives a few machines big cells in one band', () => {
    const l = layoutHeatmap(20, 8, 1200)
    expect(l.cell).toBe(MAX_CELL)
    expect(l.bands).toBe(1)
    expect(l.height).toBeLessThanOrEqual(460)
  })

  it('fits 1,000 machines × 8 GPUs into the height allowed, wrapping into bands', () => {
    const l = layoutHeatmap(1000, 8, 1300)
    expect(l.height).toBeLessThanOrEqual(460)
    expect(l.perBand * l.bands).toBeGreaterThanOrEqual(1000)
    expect(l.cell).toBeGreaterThanOrEqual(4)
  })

  it('finds the cell under a point where it draws it, and nothing between cells', () => {
    const l = layoutHeatmap(1000, 8, 1300)
    for (const [m, g] of [
      [0, 0],
      [1, 7],
      [l.perBand, 3],
      [999, 5],
    ] as const) {
      const [x, y] = cellOrigin(l, m, g)
      expect(cellAt(l, x + l.cell / 2, y + l.cell / 2, 1000)).toEqual({ machine: m, gpu: g })
    }
    const [x, y] = cellOrigin(l, 0, 0)
    expect(cellAt(l, x + l.cell + l.gap / 2 + 0.01, y + 1, 1000)).toBeNull()
    // past the last machine of the last band
    const [lx, ly] = cellOrigin(l, 999, 0)
    expect(cellAt(l, lx + (l.cell + l.gap) * 2, ly + 1, 1000)).toBeNull()
  })

  it('colours by utilisation, grey without data', () => {
    expect(HEAT_COLOURS).toHaveLength(101)
    expect(heatColour(0)).toBe('rgb(232,245,233)')
    expect(heatColour(100)).toBe('rgb(183,28,28)')
    expect(heatColour(-1)).toBe(NO_DATA_COLOUR)
  })
})
