import uPlot from 'uplot';
import type { ChartData } from '../chart-series';
import { h, scrollBox } from '../dom';
import { formatCredits, formatDate } from '../format';

/** Series colours, each with at least 3:1 contrast on white (the chart's lines are its only marks). */
export const CHART_COLORS = {
  daily: '#6b8fd6',
  used: '#1d4ed8',
  forecast: '#c2410c',
  allowance: '#15803d',
  topUps: '#7c3aed',
  exhaustion: '#b91c1c',
} as const;

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

export interface LegendValues {
  used: number;
  forecast: number;
  forecastLow: number | null;
  forecastHigh: number | null;
  allowance: number;
  allowancePlusTopUps: number | null;
  today: number | null;
}

/**
 * The legend, always visible and with its values (no hovering needed): one entry per mark on the chart,
 * with the mark's colour and dash drawn as a small line.
 */
export function chartLegend(values: LegendValues): HTMLElement {
  const entry = (key: string, label: string, value: string, color: string, style: 'solid' | 'dashed' | 'dotted' | 'bar' | 'band') =>
    h('li', { 'data-series': key }, h('span', { class: `swatch swatch-${style}`, style: `--swatch:${color}`, 'aria-hidden': 'true' }), h('span', { class: 'legend-label' }, label), ' ', h('strong', { class: 'legend-value' }, value));
  return h(
    'ul',
    { class: 'chart-legend', id: 'chart-legend', 'aria-label': 'Chart legend with values' },
    entry('daily', 'Credits today', values.today === null ? '–' : formatCredits(values.today), CHART_COLORS.daily, 'bar'),
    entry('used', 'Used so far', formatCredits(values.used), CHART_COLORS.used, 'solid'),
    entry('forecast', 'Forecast at period end', formatCredits(values.forecast), CHART_COLORS.forecast, 'dashed'),
    values.forecastLow !== null && values.forecastHigh !== null
      ? entry('range', 'Forecast range', `${formatCredits(values.forecastLow)} – ${formatCredits(values.forecastHigh)}`, CHART_COLORS.forecast, 'band')
      : null,
    entry('allowance', 'Allowance', formatCredits(values.allowance), CHART_COLORS.allowance, 'dotted'),
    values.allowancePlusTopUps !== null ? entry('topups', 'Allowance + top-ups', formatCredits(values.allowancePlusTopUps), CHART_COLORS.topUps, 'dotted') : null,
  );
}

/**
 * Draws the period's daily usage with uPlot into `container` and keeps it sized to its box: one credits
 * axis for everything (bars per day, the cumulative line, the allowance as a line, the forecast as a dashed
 * continuation with its range shaded), so every mark reads against the same scale. Returns a cleanup that
 * destroys the chart.
 */
export function drawUsageChart(container: HTMLElement, data: ChartData): () => void {
  const hidden = { show: false } as const;
  const series: uPlot.Series[] = [
    { label: 'Day', value: (_u, ts) => (ts == null ? '–' : formatDate(new Date(ts * 1000).toISOString())) },
    { label: 'Credits per day', scale: 'credits', stroke: CHART_COLORS.daily, fill: 'rgba(107,143,214,0.35)', width: 1, paths: uPlot.paths.bars!({ size: [0.6, 24] }), points: hidden },
    { label: 'Used so far', scale: 'credits', stroke: CHART_COLORS.used, fill: 'rgba(29,78,216,0.08)', width: 2.5, points: hidden },
    { label: 'Forecast', scale: 'credits', stroke: CHART_COLORS.forecast, width: 2.5, dash: [8, 5], points: hidden },
    { label: 'Forecast low', scale: 'credits', stroke: 'rgba(194,65,12,0.35)', width: 1, points: hidden },
    { label: 'Forecast high', scale: 'credits', stroke: 'rgba(194,65,12,0.35)', width: 1, points: hidden },
    { label: 'Allowance', scale: 'credits', stroke: CHART_COLORS.allowance, width: 2, dash: [3, 3], points: hidden },
  ];
  const columns: uPlot.AlignedData = [data.x, data.daily, data.cumulative, data.forecast, data.forecastLow, data.forecastHigh, data.allowance];
  if (data.allowancePlusTopUps) {
    series.push({ label: 'Allowance + top-ups', scale: 'credits', stroke: CHART_COLORS.topUps, width: 1.5, dash: [3, 3], points: hidden });
    (columns as unknown as (number | null)[][]).push(data.allowancePlusTopUps);
  }
  const maxOf = (values: (number | null)[] | null) => Math.max(0, ...(values ?? []).map((v) => v ?? 0));
  const creditsMax = Math.max(maxOf(data.cumulative), maxOf(data.forecast), maxOf(data.forecastHigh), maxOf(data.allowance), maxOf(data.allowancePlusTopUps), maxOf(data.daily), 1);

  const size = () => ({ width: Math.max(280, container.clientWidth), height: container.clientWidth < 520 ? 240 : 300 });
  const options: uPlot.Options = {
    ...size(),
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    cursor: { drag: { x: false, y: false } },
    // The page's own legend (chartLegend) shows every value without hovering.
    legend: { show: false },
    scales: { x: { time: true }, credits: { range: () => [0, creditsMax * 1.08] } },
    axes: [
      { stroke: '#374151', grid: { stroke: '#eef0f3' } },
      { scale: 'credits', label: 'Credits', stroke: '#374151', grid: { stroke: '#eef0f3' }, size: 56, values: (_u, splits) => splits.map((v) => compact.format(v)) },
    ],
    series,
    bands: [{ series: [5, 4], fill: 'rgba(194,65,12,0.10)' }],
    hooks: {
      draw: [
        (u) => {
          if (data.exhaustionX === null) return;
          const x = Math.round(u.valToPos(data.exhaustionX, 'x', true));
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = CHART_COLORS.exhaustion;
          ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.setLineDash([]);
          ctx.fillStyle = CHART_COLORS.exhaustion;
          ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
          const label = 'runs out';
          const width = ctx.measureText(label).width;
          const left = x + 4 * devicePixelRatio + width > u.bbox.left + u.bbox.width ? x - 4 * devicePixelRatio - width : x + 4 * devicePixelRatio;
          ctx.fillText(label, left, u.bbox.top + 14 * devicePixelRatio);
          ctx.restore();
        },
      ],
    },
  };
  const plot = new uPlot(options, columns, container);
  const observer = new ResizeObserver(() => plot.setSize(size()));
  observer.observe(container);
  return () => {
    observer.disconnect();
    plot.destroy();
  };
}

/** The chart's numbers as a table, for screen readers and anyone who prefers figures. */
export function chartDataTable(data: ChartData): HTMLElement {
  const rows = data.labels.map((label, i) =>
    h(
      'tr',
      null,
      h('th', { scope: 'row' }, formatDate(label)),
      h('td', { class: 'num' }, data.daily[i] === null ? '' : formatCredits(data.daily[i])),
      h('td', { class: 'num' }, data.cumulative[i] === null ? '' : formatCredits(data.cumulative[i])),
      h('td', { class: 'num' }, data.forecast[i] === null ? '' : formatCredits(data.forecast[i])),
      h('td', { class: 'num' }, data.forecastLow[i] === null || data.forecastHigh[i] === null ? '' : `${formatCredits(data.forecastLow[i])} – ${formatCredits(data.forecastHigh[i])}`),
    ),
  );
  return h(
    'div',
    scrollBox('Chart data'),
    h(
      'table',
      { id: 'chart-data' },
      h('caption', { class: 'sr-only' }, 'Credits per day, used so far, forecast and its range'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Day'), h('th', { scope: 'col', class: 'num' }, 'Credits'), h('th', { scope: 'col', class: 'num' }, 'Used so far'), h('th', { scope: 'col', class: 'num' }, 'Forecast'), h('th', { scope: 'col', class: 'num' }, 'Forecast range'))),
      h('tbody', null, rows),
    ),
  );
}
