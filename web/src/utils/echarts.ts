// ECharts, registered piece by piece (requirements 4.4.1): only the charts,
// components and renderer the console draws with end up in the bundle. (The
// real-time heat map is a plain canvas: 8,000 cells repainted every update
// cost a few milliseconds there, against tens in a heatmap series.)
import * as echarts from 'echarts/core'
import { BarChart, LineChart, PieChart, type BarSeriesOption, type LineSeriesOption, type PieSeriesOption } from 'echarts/charts'
import {
  GridComponent,
  LegendComponent,
  TooltipComponent,
  type GridComponentOption,
  type LegendComponentOption,
  type TooltipComponentOption,
} from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'

echarts.use([LineChart, PieChart, BarChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer])

/** The options of the charts the console draws. */
export type ChartOption = echarts.ComposeOption<
  LineSeriesOption | PieSeriesOption | BarSeriesOption | GridComponentOption | TooltipComponentOption | LegendComponentOption
>

export type Chart = echarts.ECharts
export type ChartEvent = echarts.ECElementEvent

export { echarts }
