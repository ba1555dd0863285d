/**
 * Writes a simulation's outputs to a directory: results.json, one CSV per strategy, and
 * two plots (honest accuracy per round with a min/max band; bytes per peer per round),
 * each as SVG and PNG. Files are written whole (tmp + rename) so an interrupted run
 * never leaves a half-written file.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Chart, PALETTE } from './plot/chart.ts';
import { renderPng } from './plot/png.ts';
import { renderSvg } from './plot/svg.ts';
import type { StrategyResult } from './results.ts';
import { resultCsv } from './results.ts';

export interface ResultsFile {
  readonly scenario: Record<string, unknown>;
  readonly environment: Record<string, unknown>;
  readonly interrupted: boolean;
  readonly strategies: Record<string, StrategyResult>;
}

/** Writes `file` whole (tmp + rename): readers never see half a file. */
export function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** Strategy labels made safe for file names. */
export function fileStem(label: string): string {
  return label.replace(/[^\w.+-]/g, '_');
}

export function accuracyChart(name: string, strategies: Record<string, StrategyResult>): Chart {
  return {
    title: `${name}: honest-peer accuracy`,
    xLabel: 'round',
    yLabel: 'accuracy (mean, min-max band)',
    yRange: [0, 1],
    yFormat: (v) => `${Math.round(v * 100)}%`,
    series: Object.entries(strategies).map(([label, r], i) => {
      const rows = r.rounds.filter((row) => row.honestAccuracy !== null);
      return {
        label,
        color: PALETTE[i % PALETTE.length] as string,
        points: rows.map((row) => [row.round, row.honestAccuracy?.mean ?? 0] as const),
        band: rows.map((row) => [row.round, row.honestAccuracy?.min ?? 0, row.honestAccuracy?.max ?? 0] as const),
      };
    }),
  };
}

export function bytesChart(name: string, strategies: Record<string, StrategyResult>): Chart {
  return {
    title: `${name}: bytes sent per honest peer`,
    xLabel: 'round',
    yLabel: 'bytes per peer per round',
    series: Object.entries(strategies).map(([label, r], i) => ({
      label,
      color: PALETTE[i % PALETTE.length] as string,
      points: r.rounds.map((row) => [row.round, row.bytesSentPerPeer] as const),
    })),
  };
}

/** Writes every output; returns the paths written. */
export function writeReport(dir: string, results: ResultsFile): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const put = (name: string, data: string | Uint8Array): void => {
    const file = path.join(dir, name);
    writeAtomic(file, data);
    written.push(file);
  };
  put('results.json', `${JSON.stringify(results, null, 2)}\n`);
  for (const [label, r] of Object.entries(results.strategies)) put(`${fileStem(label)}.csv`, resultCsv(r));
  const name = String(results.scenario.name ?? 'simulation');
  for (const [stem, chart] of [
    ['accuracy', accuracyChart(name, results.strategies)],
    ['bytes', bytesChart(name, results.strategies)],
  ] as const) {
    put(`${stem}.svg`, renderSvg(chart));
    put(`${stem}.png`, renderPng(chart));
  }
  return written;
}
