/**
 * A Chart as a standalone SVG document (simulations/plot/png.ts rasterises the same SVG).
 * Each series has its own colour, dash pattern and hollow marker shape, so series that
 * coincide (three strategies sending the same bytes) stay visible: the later, dashed line
 * leaves gaps through which the earlier one shows, and the outlines of different marker
 * shapes do not cover each other.
 */
import { type Chart, layout } from './chart.ts';

/** Dash patterns by series index (SVG stroke-dasharray; "" = solid). */
export const DASHES = ['', '9 5', '3 4', '12 4 3 4', '6 3', '2 6', '14 6', '4 4 1 4', '8 2', '1 3'] as const;
export const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'cross', 'plus'] as const;
/** At most this many markers per series: denser series get one every k-th point. */
const MAX_MARKERS = 24;
const MARKER_SIZE = 4;

function marker(shape: (typeof MARKERS)[number], x: number, y: number, color: string): string {
  const r = MARKER_SIZE;
  const style = `fill="none" stroke="${color}" stroke-width="1.5"`;
  switch (shape) {
    case 'circle':
      return `<circle cx="${f(x)}" cy="${f(y)}" r="${r}" ${style}/>`;
    case 'square':
      return `<rect x="${f(x - r)}" y="${f(y - r)}" width="${2 * r}" height="${2 * r}" ${style}/>`;
    case 'triangle':
      return `<polygon points="${f(x)},${f(y - r - 1)} ${f(x + r + 1)},${f(y + r)} ${f(x - r - 1)},${f(y + r)}" ${style}/>`;
    case 'diamond':
      return `<polygon points="${f(x)},${f(y - r - 1)} ${f(x + r + 1)},${f(y)} ${f(x)},${f(y + r + 1)} ${f(x - r - 1)},${f(y)}" ${style}/>`;
    case 'cross':
      return `<path d="M${f(x - r)} ${f(y - r)}L${f(x + r)} ${f(y + r)}M${f(x - r)} ${f(y + r)}L${f(x + r)} ${f(y - r)}" ${style}/>`;
    case 'plus':
      return `<path d="M${f(x - r - 1)} ${f(y)}H${f(x + r + 1)}M${f(x)} ${f(y - r - 1)}V${f(y + r + 1)}" ${style}/>`;
    default: {
      const never: never = shape;
      throw new Error(`unknown marker ${never}`);
    }
  }
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const f = (v: number): string => v.toFixed(1);

export function renderSvg(chart: Chart): string {
  const l = layout(chart);
  const { x0, y0, x1, y1 } = l.plot;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${l.width}" height="${l.height}" viewBox="0 0 ${l.width} ${l.height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${x0}" y="24" font-size="15" font-weight="bold">${esc(chart.title)}</text>`,
  ];
  for (const t of l.yTicks) {
    const y = f(l.sy(t));
    out.push(`<line x1="${x0}" x2="${x1}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${esc(l.yFormat(t))}</text>`);
  }
  for (const t of l.xTicks) {
    const x = f(l.sx(t));
    out.push(`<line x1="${x}" x2="${x}" y1="${y1}" y2="${y1 + 5}" stroke="#444"/>`);
    out.push(`<text x="${x}" y="${y1 + 18}" text-anchor="middle">${t}</text>`);
  }
  out.push(`<rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${(x0 + x1) / 2}" y="${l.height - 14}" text-anchor="middle">${esc(chart.xLabel)}</text>`);
  out.push(
    `<text transform="translate(18 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">${esc(chart.yLabel)}</text>`,
  );
  chart.series.forEach((s, index) => {
    const dash = DASHES[index % DASHES.length] as string;
    const shape = MARKERS[index % MARKERS.length];
    if (s.band && s.band.length > 0) {
      const upper = s.band.map(([x, , hi]) => `${f(l.sx(x))},${f(l.sy(hi))}`);
      const lower = [...s.band].reverse().map(([x, lo]) => `${f(l.sx(x))},${f(l.sy(lo))}`);
      out.push(
        `<polygon points="${[...upper, ...lower].join(' ')}" fill="${s.color}" fill-opacity="0.18" stroke="none"/>`,
      );
    }
    if (s.points.length > 0) {
      const pts = s.points.map(([x, y]) => `${f(l.sx(x))},${f(l.sy(y))}`).join(' ');
      const dashed = dash === '' ? '' : ` stroke-dasharray="${dash}"`;
      out.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"${dashed}/>`);
      const every = Math.ceil(s.points.length / MAX_MARKERS);
      s.points.forEach(([x, y], i) => {
        if (i % every === 0 || i === s.points.length - 1) out.push(marker(shape, l.sx(x), l.sy(y), s.color));
      });
    }
  });
  chart.series.forEach((s, i) => {
    const at = l.legend[i];
    if (!at) return;
    const dash = DASHES[i % DASHES.length] as string;
    const dashed = dash === '' ? '' : ` stroke-dasharray="${dash}"`;
    out.push(
      `<line x1="${at.x}" x2="${at.x + 28}" y1="${at.y - 4}" y2="${at.y - 4}" stroke="${s.color}" stroke-width="2"${dashed}/>`,
    );
    out.push(marker(MARKERS[i % MARKERS.length], at.x + 14, at.y - 4, s.color));
    out.push(`<text x="${at.x + 34}" y="${at.y}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
