/**
 * A Chart as a PNG, rasterised here (no native renderer is needed): the same layout as
 * the SVG, with a 5x7 bitmap font for labels. PNG encoding: 8-bit RGBA, filter 0,
 * zlib-deflated IDAT, CRC-32 per chunk (node:zlib).
 */
import { crc32, deflateSync } from 'node:zlib';
import { type Chart, layout } from './chart.ts';
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphPixels } from './font.ts';

type Rgb = readonly [number, number, number];

const BAND_ALPHA = 0.18;
const LINE_HALF_WIDTH = 1;
const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function rgb(hex: string): Rgb {
  const n = Number.parseInt(hex.replace('#', ''), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

class Canvas {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;

  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this.data = new Uint8Array(width * height * 4).fill(255);
  }

  blend(x: number, y: number, c: Rgb, alpha = 1): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    const at = (yi * this.width + xi) * 4;
    for (let k = 0; k < 3; k++) {
      const old = this.data[at + k] as number;
      this.data[at + k] = Math.round(old + ((c[k] as number) - old) * alpha);
    }
  }

  rect(x0: number, y0: number, x1: number, y1: number, c: Rgb, alpha = 1): void {
    for (let y = Math.round(y0); y <= Math.round(y1); y++)
      for (let x = Math.round(x0); x <= Math.round(x1); x++) this.blend(x, y, c, alpha);
  }

  line(ax: number, ay: number, bx: number, by: number, c: Rgb, half = 0): void {
    const steps = Math.max(1, Math.ceil(Math.hypot(bx - ax, by - ay) * 2));
    for (let i = 0; i <= steps; i++) {
      const x = ax + ((bx - ax) * i) / steps;
      const y = ay + ((by - ay) * i) / steps;
      if (half === 0) this.blend(x, y, c);
      else this.rect(x - half, y - half, x + half, y + half, c);
    }
  }

  text(x: number, y: number, text: string, c: Rgb, scale = 1, anchor: 'start' | 'middle' | 'end' = 'start'): void {
    const advance = (GLYPH_WIDTH + 1) * scale;
    const width = text.length * advance - scale;
    const left = anchor === 'start' ? x : anchor === 'middle' ? x - width / 2 : x - width;
    const top = y - (GLYPH_HEIGHT * scale) / 2;
    [...text].forEach((ch, i) => {
      for (const [gx, gy] of glyphPixels(ch)) {
        this.rect(
          left + i * advance + gx * scale,
          top + gy * scale,
          left + i * advance + (gx + 1) * scale - 1,
          top + (gy + 1) * scale - 1,
          c,
        );
      }
    });
  }
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

export function encodePng(width: number, height: number, rgba: Uint8Array): Uint8Array {
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit, RGBA, deflate, filter 0, no interlace
  const raw = new Uint8Array(height * (width * 4 + 1));
  for (let y = 0; y < height; y++) raw.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1);
  const parts = [
    PNG_SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const INK: Rgb = [40, 40, 40];
const GRID: Rgb = [229, 229, 229];

export function renderPng(chart: Chart): Uint8Array {
  const l = layout(chart);
  const { x0, y0, x1, y1 } = l.plot;
  const c = new Canvas(l.width, l.height);
  c.text(x0, 22, chart.title, INK, 2);
  for (const t of l.yTicks) {
    const y = l.sy(t);
    c.line(x0, y, x1, y, GRID);
    c.text(x0 - 6, y, l.yFormat(t), INK, 1, 'end');
  }
  for (const t of l.xTicks) {
    const x = l.sx(t);
    c.line(x, y1, x, y1 + 5, INK);
    c.text(x, y1 + 16, String(t), INK, 1, 'middle');
  }
  c.text((x0 + x1) / 2, l.height - 16, chart.xLabel, INK, 1, 'middle');
  c.text(8, y0 - 8, chart.yLabel, INK, 1, 'start');
  for (const s of chart.series) {
    const color = rgb(s.color);
    const band = s.band ?? [];
    for (let i = 0; i + 1 < band.length; i++) {
      const [ax, alo, ahi] = band[i] as readonly [number, number, number];
      const [bx, blo, bhi] = band[i + 1] as readonly [number, number, number];
      const px0 = Math.round(l.sx(ax));
      const px1 = Math.round(l.sx(bx));
      for (let px = px0; px < px1 || (px === px0 && px0 === px1); px++) {
        const t = px1 === px0 ? 0 : (px - px0) / (px1 - px0);
        const hi = l.sy(ahi + (bhi - ahi) * t);
        const lo = l.sy(alo + (blo - alo) * t);
        for (let py = Math.round(hi); py <= Math.round(lo); py++) c.blend(px, py, color, BAND_ALPHA);
        if (px0 === px1) break;
      }
    }
    for (let i = 0; i + 1 < s.points.length; i++) {
      const [ax, ay] = s.points[i] as readonly [number, number];
      const [bx, by] = s.points[i + 1] as readonly [number, number];
      c.line(l.sx(ax), l.sy(ay), l.sx(bx), l.sy(by), color, LINE_HALF_WIDTH);
    }
    if (s.points.length === 1) {
      const [x, y] = s.points[0] as readonly [number, number];
      c.rect(l.sx(x) - 2, l.sy(y) - 2, l.sx(x) + 2, l.sy(y) + 2, color);
    }
  }
  c.line(x0, y0, x1, y0, INK);
  c.line(x0, y1, x1, y1, INK);
  c.line(x0, y0, x0, y1, INK);
  c.line(x1, y0, x1, y1, INK);
  chart.series.forEach((s, i) => {
    const at = l.legend[i];
    if (!at) return;
    c.rect(at.x, at.y - 8, at.x + 13, at.y + 1, rgb(s.color));
    c.text(at.x + 20, at.y - 3, s.label, INK);
  });
  return encodePng(l.width, l.height, c.data);
}
