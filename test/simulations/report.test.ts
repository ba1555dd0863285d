/** Simulation reports: per-round aggregation, CSV, and the SVG/PNG renderers (pure, fast). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32, inflateSync } from 'node:zlib';
import { type Chart, HEIGHT, layout, niceTicks, PALETTE, WIDTH } from '../../simulations/plot/chart.ts';
import { type RasterImage, renderPixels, renderPng } from '../../simulations/plot/png.ts';
import { renderSvg } from '../../simulations/plot/svg.ts';
import { accuracyChart, bytesChart } from '../../simulations/report.ts';
import { resultCsv, roundRows, strategyResult } from '../../simulations/results.ts';
import type { PeerRound, StrategyRun } from '../../simulations/runner.ts';

function rec(
  peer: number,
  round: number,
  merged: number | undefined,
  bytesSent = 100,
  atMs = round * 10 + peer,
): PeerRound {
  const snap = (overall: number) => ({ overall, loss: 0, perClass: [], f1: [] });
  return {
    peer,
    round,
    merged: merged === undefined ? undefined : snap(merged),
    local: merged === undefined ? undefined : snap(merged - 0.1),
    bytesSent,
    bytesReceived: 2 * bytesSent,
    candidates: 3,
    ownShare: 0.5,
    byzantineShare: peer === 0 ? 0.2 : 0,
    closedBy: 'enough-updates',
    mergedFrom: [],
    atMs,
  };
}

function runOf(records: PeerRound[]): StrategyRun {
  return {
    label: 'x',
    records,
    honestPeers: [0, 1],
    interrupted: false,
    elapsedMs: 1,
    setupMs: 0,
    errors: [],
    errorCount: 0,
    rejectedUpdates: 0,
  };
}

test('round rows aggregate honest peers per round, whatever order records arrive in', () => {
  const rows = roundRows([rec(1, 1, 0.95, 300), rec(0, 0, 0.5), rec(1, 0, 0.7, 300), rec(0, 1, 0.85)]);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0]?.honestAccuracy, { mean: 0.6, min: 0.5, max: 0.7 });
  assert.equal(rows[0]?.bytesSentPerPeer, 200);
  assert.equal(rows[0]?.ownShareMean, 0.5);
  assert.equal(rows[0]?.byzantineShareMean, 0.1);
  assert.equal(rows[0]?.wallMs, 1);
  assert.equal(rows[1]?.honestAccuracy?.max, 0.95);
  assert.equal(rows[1]?.wallMs, 11);
  const result = strategyResult(runOf([rec(0, 0, 0.5), rec(1, 0, 0.7), rec(0, 1, 0.86), rec(1, 1, 0.96)]));
  assert.equal(result.final.roundsTo90, 2, 'mean 0.9 reached after the second round');
  assert.equal(strategyResult(runOf([rec(0, 0, 0.5)])).final.roundsTo90, null);
});

test('rounds without evaluation have null accuracy and do not count as final', () => {
  const result = strategyResult(runOf([rec(0, 0, 0.4), rec(0, 1, undefined)]));
  assert.equal(result.rounds[1]?.honestAccuracy, null);
  assert.equal(result.final.honestAccuracy?.mean, 0.4);
  const csv = resultCsv(result).trim().split('\n');
  assert.equal(csv.length, 3);
  assert.equal(csv[2]?.split(',')[1], '', 'empty cell for a round not evaluated');
});

test('nice ticks are round numbers covering the range', () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 340_000), [0, 100_000, 200_000, 300_000]);
  assert.deepEqual(niceTicks(1, 15, 6, true), [5, 10, 15]);
  assert.deepEqual(niceTicks(1, 3, 6, true), [1, 2, 3]);
});

test('PNG files are well formed: signature, IHDR size, chunk CRCs, pixel data length', () => {
  const png = renderPng(accuracyChart('t', strategyResultMap()));
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let at = 8;
  const chunks: Array<{ type: string; body: Uint8Array }> = [];
  while (at < png.length) {
    const length = view.getUint32(at);
    const type = new TextDecoder().decode(png.subarray(at + 4, at + 8));
    const body = png.subarray(at + 8, at + 8 + length);
    assert.equal(view.getUint32(at + 8 + length), crc32(png.subarray(at + 4, at + 8 + length)), `${type} CRC`);
    chunks.push({ type, body });
    at += 12 + length;
  }
  assert.equal(chunks[0]?.type, 'IHDR');
  assert.equal(chunks.at(-1)?.type, 'IEND');
  const header = new DataView(chunks[0]!.body.buffer, chunks[0]!.body.byteOffset);
  const [w, h, depth, colour] = [header.getUint32(0), header.getUint32(4), header.getUint8(8), header.getUint8(9)];
  assert.deepEqual([w, h], [WIDTH, HEIGHT]);
  const idat = Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.body));
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colour] as number;
  assert.equal(depth, 8);
  assert.equal(inflateSync(idat).length, h * (w * channels + 1));
});

/** Pixels of the plot area within a small distance of `color` (#rrggbb): antialiased edges blend. */
function pixelsOf(image: RasterImage, color: string, area: { x0: number; y0: number; x1: number; y1: number }): number {
  const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(color.slice(i, i + 2), 16)) as [number, number, number];
  let n = 0;
  for (let y = Math.ceil(area.y0) + 1; y < area.y1 - 1; y++) {
    for (let x = Math.ceil(area.x0) + 1; x < area.x1 - 1; x++) {
      const i = (y * image.width + x) * 4;
      const d = Math.abs(image.pixels[i] - r) + Math.abs(image.pixels[i + 1] - g) + Math.abs(image.pixels[i + 2] - b);
      if (d < 40) n++;
    }
  }
  return n;
}

test('two identical, overlapping series can be told apart in the PNG (the bytes.png case)', () => {
  const points = Array.from({ length: 12 }, (_, r) => [r, 1000 + 50 * r] as const);
  const chart: Chart = {
    title: 'overlap',
    xLabel: 'round',
    yLabel: 'bytes',
    series: [
      { label: 'first', color: PALETTE[0], points },
      { label: 'second', color: PALETTE[1], points },
    ],
  };
  const png = renderPng(chart);
  const size = new DataView(png.buffer, png.byteOffset + 16, 8);
  assert.deepEqual([size.getUint32(0), size.getUint32(4)], [WIDTH, HEIGHT]);
  const image = renderPixels(chart);
  const { plot } = layout(chart);
  const first = pixelsOf(image, PALETTE[0], plot);
  const second = pixelsOf(image, PALETTE[1], plot);
  // The second line is drawn over the first: the first shows only through its dash gaps
  // and its own marker outlines. A solid second line would hide it completely.
  assert.ok(first > 100, `first series: ${first} pixels of its colour in the plot`);
  assert.ok(second > 100, `second series: ${second} pixels of its colour in the plot`);
  const svg = renderSvg(chart);
  assert.match(svg, /stroke-dasharray="9 5"/);
  assert.match(svg, /<circle /);
  assert.match(svg, /<rect x="[\d.]+" y="[\d.]+" width="8" height="8" fill="none"/);
});

test('plots number rounds from 0, as results.json and the CSVs do', () => {
  const chart = accuracyChart('t', strategyResultMap());
  const firstRounds = chart.series.map((s) => s.points[0]?.[0]);
  assert.ok(
    firstRounds.every((r) => r === 0),
    `first plotted rounds: ${firstRounds}`,
  );
});

test('SVG plots name every strategy and escape labels', () => {
  const svg = renderSvg(bytesChart('a<b', strategyResultMap()));
  assert.match(svg, /^<svg /);
  assert.match(svg, /a&lt;b: bytes sent per honest peer/);
  assert.match(svg, />bristle\+ldawa</);
  assert.match(svg, />mean</);
  assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
});

function strategyResultMap() {
  return {
    'bristle+ldawa': strategyResult(runOf([rec(0, 0, 0.5), rec(1, 0, 0.7), rec(0, 1, 0.8), rec(1, 1, 0.9)])),
    mean: strategyResult(runOf([rec(0, 0, 0.2), rec(1, 0, 0.3), rec(0, 1, 0.2), rec(1, 1, 0.25)])),
  };
}
