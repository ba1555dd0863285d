/** A Chart as a standalone SVG document. */
import { type Chart, layout } from './chart.ts';

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
  for (const s of chart.series) {
    if (s.band && s.band.length > 0) {
      const upper = s.band.map(([x, , hi]) => `${f(l.sx(x))},${f(l.sy(hi))}`);
      const lower = [...s.band].reverse().map(([x, lo]) => `${f(l.sx(x))},${f(l.sy(lo))}`);
      out.push(
        `<polygon points="${[...upper, ...lower].join(' ')}" fill="${s.color}" fill-opacity="0.18" stroke="none"/>`,
      );
    }
    if (s.points.length > 0) {
      const pts = s.points.map(([x, y]) => `${f(l.sx(x))},${f(l.sy(y))}`).join(' ');
      out.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    }
  }
  chart.series.forEach((s, i) => {
    const at = l.legend[i];
    if (!at) return;
    out.push(`<rect x="${at.x}" y="${at.y - 9}" width="14" height="10" fill="${s.color}"/>`);
    out.push(`<text x="${at.x + 20}" y="${at.y}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
