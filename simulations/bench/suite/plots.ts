/** SVG plots of the bench report (docs/perf/*.svg), drawn with simulations/plot. */
import { type Chart, PALETTE, type Series } from '../../plot/chart.ts';
import { renderSvg } from '../../plot/svg.ts';
import { MERGE_SHOWN } from './report.ts';
import type { SuiteResult } from './types.ts';

const pow10 = (v: number): string => {
  const x = 10 ** v;
  return x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toPrecision(1);
};

function series(label: string, i: number, points: Array<readonly [number, number]>): Series {
  return { label, color: PALETTE[i % PALETTE.length] as string, points: [...points].sort((a, b) => a[0] - b[0]) };
}

function trainChart(r: SuiteResult): Chart | undefined {
  const t = r.train;
  if (t === undefined) return undefined;
  const backends = ['wasm', 'cpu'] as const;
  return {
    title: 'Training throughput vs model size (batch 64, MNIST)',
    xLabel: 'log10 training FLOPs per sample (head, mlp, cnn)',
    yLabel: 'GFLOP/s (log scale)',
    yFormat: pow10,
    series: backends.map((b, i) =>
      series(
        `${b} (peak ${t.peakGflops[b].toFixed(1)} GFLOP/s)`,
        i,
        t.rows
          .filter((row) => row.backend === b && !row.config.includes('plain'))
          .map((row) => [Math.log10(row.trainFlopsPerSample), Math.log10(row.gflops)] as const),
      ),
    ),
  };
}

function mergeChart(r: SuiteResult): Chart | undefined {
  const rows = r.merge;
  if (rows === undefined) return undefined;
  const size = Math.max(...rows.filter((x) => x.params < 500_000).map((x) => x.params));
  return {
    title: `Merge time vs candidates (${Math.round(size / 1000)}k parameters)`,
    xLabel: 'candidates',
    yLabel: 'ms per merge (log scale)',
    yFormat: pow10,
    series: MERGE_SHOWN.map((name, i) =>
      series(
        name,
        i,
        rows
          .filter((x) => x.strategy === name && x.params === size && x.evaluation !== 'synthetic')
          .map((x) => [x.candidates, Math.log10(Math.max(x.medianMs, 0.01))] as const),
      ),
    ),
  };
}

function gossipChart(r: SuiteResult): Chart | undefined {
  const g = r.gossip;
  if (g === undefined) return undefined;
  const memory = g.results.filter((x) => x.transport === 'memory');
  const sizes = [...new Set(memory.map((x) => x.bytes))].sort((a, b) => a - b);
  return {
    title: 'Gossip: time for one update to reach every peer (libp2p memory, one process)',
    xLabel: 'peers',
    yLabel: 'ms to all peers',
    series: sizes.map((size, i) =>
      series(
        `${size / 1000} kB`,
        i,
        memory.filter((x) => x.bytes === size).map((x) => [x.peers, x.msToAll] as const),
      ),
    ),
  };
}

/** File name (under docs/perf, .svg) -> chart, for the sections that ran. */
export function benchCharts(r: SuiteResult): Map<string, Chart> {
  const charts: Array<[string, Chart | undefined]> = [
    ['train-throughput.svg', trainChart(r)],
    ['merge-vs-candidates.svg', mergeChart(r)],
    ['gossip-vs-peers.svg', gossipChart(r)],
  ];
  const out = new Map<string, Chart>();
  for (const [name, chart] of charts) {
    if (chart?.series.some((s) => s.points.length > 0)) out.set(name, chart);
  }
  return out;
}

/** File name (under docs/perf) -> SVG text. */
export function renderPlots(r: SuiteResult): Map<string, string> {
  return new Map([...benchCharts(r)].map(([name, chart]) => [name, renderSvg(chart)]));
}
