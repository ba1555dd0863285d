/**
 * A line chart as plain data, and the layout both renderers share (SVG and PNG draw the
 * same picture): plot area, scales, "nice" ticks, legend rows.
 */

export interface Series {
  readonly label: string;
  /** #rrggbb */
  readonly color: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
  /** Optional min/max band: [x, low, high], ascending x. */
  readonly band?: ReadonlyArray<readonly [number, number, number]>;
}

export interface Chart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Fixed y range (e.g. [0, 1] for accuracy); default from the data. */
  readonly yRange?: readonly [number, number];
  /** Format of y tick labels. */
  readonly yFormat?: (v: number) => string;
}

/** Distinguishable colours (Tableau 10), assigned to series in order. */
export const PALETTE = [
  '#4e79a7',
  '#e15759',
  '#59a14f',
  '#f28e2b',
  '#b07aa1',
  '#76b7b2',
  '#edc948',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
] as const;

export const WIDTH = 880;
export const HEIGHT = 500;
const MARGIN = { left: 80, right: 230, top: 44, bottom: 56 } as const;
const TARGET_TICKS = 6;

export interface Layout {
  readonly width: number;
  readonly height: number;
  readonly plot: { readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number };
  readonly sx: (x: number) => number;
  readonly sy: (y: number) => number;
  readonly xTicks: number[];
  readonly yTicks: number[];
  readonly yFormat: (v: number) => string;
  /** Legend row origins (left end of the swatch, text baseline). */
  readonly legend: Array<{ readonly x: number; readonly y: number }>;
}

/** Round tick positions covering [lo, hi], about `count` of them (whole steps if `integer`). */
export function niceTicks(lo: number, hi: number, count = TARGET_TICKS, integer = false): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const multipliers = integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
  const step = Math.max(integer ? 1 : 0, (multipliers.find((m) => m * mag >= raw) ?? 10) * mag);
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

export function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${Number((v / 1e9).toPrecision(3))}G`;
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  return `${Number(v.toPrecision(3))}`;
}

export function layout(chart: Chart): Layout {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of chart.series) {
    for (const [x, y] of s.points) {
      xs.push(x);
      ys.push(y);
    }
    for (const [x, lo, hi] of s.band ?? []) {
      xs.push(x);
      ys.push(lo, hi);
    }
  }
  const xMin = xs.length > 0 ? Math.min(...xs) : 0;
  const xMax = xs.length > 0 ? Math.max(...xs) : 1;
  let [yMin, yMax] = chart.yRange ?? [ys.length > 0 ? Math.min(0, ...ys) : 0, ys.length > 0 ? Math.max(...ys) : 1];
  if (!(yMax > yMin)) yMax = yMin + 1;
  const xHi = xMax > xMin ? xMax : xMin + 1;
  const yTicks = niceTicks(yMin, yMax);
  yMin = Math.min(yMin, yTicks[0]);
  yMax = Math.max(yMax, yTicks.at(-1) as number);
  const plot = { x0: MARGIN.left, y0: MARGIN.top, x1: WIDTH - MARGIN.right, y1: HEIGHT - MARGIN.bottom };
  return {
    width: WIDTH,
    height: HEIGHT,
    plot,
    sx: (x) => plot.x0 + ((x - xMin) / (xHi - xMin)) * (plot.x1 - plot.x0),
    sy: (y) => plot.y1 - ((y - yMin) / (yMax - yMin)) * (plot.y1 - plot.y0),
    xTicks: niceTicks(xMin, xHi, TARGET_TICKS, true),
    yTicks,
    yFormat: chart.yFormat ?? formatNumber,
    legend: chart.series.map((_, i) => ({ x: plot.x1 + 16, y: plot.y0 + 14 + i * 20 })),
  };
}
