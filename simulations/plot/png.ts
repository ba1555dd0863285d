/**
 * A Chart as a PNG: the chart's SVG (./svg.ts) rasterised by resvg (@resvg/resvg-js,
 * prebuilt for linux x64/arm64, macOS, Windows), so both files show the same picture. Text
 * uses the system's fonts (DejaVu Sans, else any sans-serif font); on a machine with none,
 * the PNG has the lines and markers but no text (the SVG keeps it).
 */
import { Resvg } from '@resvg/resvg-js';
import type { Chart } from './chart.ts';
import { renderSvg } from './svg.ts';

export interface RasterImage {
  readonly width: number;
  readonly height: number;
  /** RGBA, row-major. */
  readonly pixels: Uint8Array;
}

function rasterise(chart: Chart) {
  return new Resvg(renderSvg(chart), {
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  }).render();
}

export function renderPng(chart: Chart): Uint8Array {
  return new Uint8Array(rasterise(chart).asPng());
}

/** The rendered pixels, as in the PNG (tests read colours here instead of decoding the PNG). */
export function renderPixels(chart: Chart): RasterImage {
  const image = rasterise(chart);
  return { width: image.width, height: image.height, pixels: new Uint8Array(image.pixels) };
}
