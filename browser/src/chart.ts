/** Inline SVG charts: accuracy over rounds (local and merged) and per-class bars. */
import type { RoundPoint } from './state.ts';

const WIDTH = 480;
const HEIGHT = 200;
const PAD = 28;
const NS = 'http://www.w3.org/2000/svg';

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function path(points: Array<[number, number]>): string {
  return points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
}

export function accuracyChart(history: readonly RoundPoint[]): SVGElement {
  const svg = el('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': 'accuracy over rounds' });
  const rounds = Math.max(1, history.length - 1);
  const x = (i: number): number => PAD + ((WIDTH - 2 * PAD) * i) / rounds;
  const y = (v: number): number => HEIGHT - PAD - (HEIGHT - 2 * PAD) * v;
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(el('line', { x1: PAD, x2: WIDTH - PAD, y1: y(tick), y2: y(tick), class: 'grid' }));
    svg.append(el('text', { x: 2, y: y(tick) + 4, class: 'tick' }, `${tick * 100}%`));
  }
  for (const series of ['local', 'merged'] as const) {
    const points = history.flatMap((p, i): Array<[number, number]> => {
      const v = p[series];
      return v === undefined ? [] : [[x(i), y(v)]];
    });
    if (points.length > 0) svg.append(el('path', { d: path(points), class: `line ${series}` }));
  }
  svg.append(
    el('text', { x: WIDTH - PAD, y: HEIGHT - 6, class: 'tick', 'text-anchor': 'end' }, `round ${history.length}`),
  );
  return svg;
}

/** Bars of accuracy per class on a 0-100% scale (gridlines at every quarter). */
export function perClassChart(perClass: readonly number[]): SVGElement {
  const height = HEIGHT / 2;
  const svg = el('svg', { viewBox: `0 0 ${WIDTH} ${height}`, role: 'img', 'aria-label': 'accuracy per class' });
  const n = Math.max(1, perClass.length);
  const slot = (WIDTH - 2 * PAD) / n;
  const top = 8;
  const h = height - top - 18;
  const y = (v: number): number => top + h * (1 - v);
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(el('line', { x1: PAD, x2: WIDTH - PAD, y1: y(tick), y2: y(tick), class: 'grid' }));
    if (tick % 0.5 === 0) svg.append(el('text', { x: 2, y: y(tick) + 4, class: 'tick' }, `${tick * 100}%`));
  }
  perClass.forEach((v, c) => {
    const value = Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
    const bar = el('rect', { x: PAD + c * slot + 2, y: y(value), width: slot - 4, height: h * value, class: 'bar' });
    bar.append(el('title', {}, `class ${c}: ${(value * 100).toFixed(1)}%`));
    svg.append(bar);
    svg.append(
      el('text', { x: PAD + c * slot + slot / 2, y: height - 4, class: 'tick', 'text-anchor': 'middle' }, String(c)),
    );
  });
  return svg;
}
