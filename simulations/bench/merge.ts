/**
 * Merge benchmark: wall time of one merge per strategy, against the number of candidates
 * (5, 10, 30, 100) and the model size (10k, 100k, 1M parameters).
 *
 * Model: hidden kernel [in, 64] + bias [64] + output kernel [64, 10] + bias [10], with `in`
 * chosen for the size; all layers trainable (full-model mode, the heavier case).
 * Candidates are own plus small Gaussian perturbations; to bound memory, at most 10
 * distinct candidate models are generated and reused under different peer ids (the merge
 * reads each one in full anyway).
 *
 * Evaluation (only Bristle's integrator calls ctx.evaluate, once for own and once per
 * prioritized candidate):
 *  - `precomputed`: evaluate returns per-class scores looked up from a table: the merge
 *    math alone. Models the merge builds itself (bristle+ldawa's leave-group-out mixes) are
 *    not in the table and score as own does;
 *  - `synthetic`: evaluate runs a plain-JS forward pass of the model (hidden layer + ReLU +
 *    output layer) over 100 validation samples and computes per-class F1: a stand-in for a
 *    small real validation split, not a tfjs call.
 *
 * Bandwidth: each repetition is alternated with a memcpy of the same inputs (own and every
 * candidate, layer by layer, into arrays allocated once); rows report the inputs' fp32 bytes
 * read per second of merging and that as a fraction of the memcpy's bandwidth (median of the
 * per-repetition ratios).
 *
 * Usage: node simulations/bench/merge.ts [--quick] [--json] [--strategies mean,ldawa]
 */
import { createRng, type Rng } from '../../src/data/rng.ts';
import { createStrategy, strategyNames } from '../../src/merge/registry.ts';
import type { Candidate, ClassScores, MergeContext } from '../../src/merge/types.ts';
import { type Layer, layer, type Weights } from '../../src/model/weights.ts';
import { type Alternated, alternate, memcpyOf } from './suite/alternate.ts';

const NUM_CLASSES = 10;
const HIDDEN = 64;
const VALIDATION_SAMPLES = 100;
const DISTINCT_CANDIDATES = 10;
/** Repeat a measurement until this much time was spent (at least once, at most MAX_REPS). */
const MIN_TOTAL_MS = 300;
const MAX_REPS = 15;
const EVALUATING = new Set(['bristle', 'bristle+ldawa']);

type EvalMode = 'precomputed' | 'synthetic';

export interface MergeRow {
  readonly strategy: string;
  readonly params: number;
  readonly candidates: number;
  readonly evaluation: EvalMode | 'none';
  readonly reps: number;
  readonly medianMs: number;
  /** Median ms of a memcpy of every input (own and the candidates), alternated with the merges. */
  readonly memcpyMs: number;
  /** fp32 bytes of the inputs ((candidates + 1) x params x 4) per second of merging, in GB/s. */
  readonly readGBps: number;
  /** Fraction of memcpy bandwidth: median over repetitions of memcpy ms / merge ms. */
  readonly ofMemcpy: number;
}

function inputSizeFor(params: number): number {
  return Math.max(1, Math.round((params - HIDDEN - HIDDEN * NUM_CLASSES - NUM_CLASSES) / HIDDEN));
}

function randomModel(inputs: number, rng: Rng): Weights {
  const fill = (n: number, scale: number) => Float32Array.from({ length: n }, () => scale * rng.normal());
  return [
    layer('hidden/kernel', [inputs, HIDDEN], fill(inputs * HIDDEN, 1 / Math.sqrt(inputs))),
    layer('hidden/bias', [HIDDEN], fill(HIDDEN, 0.01)),
    layer('out/kernel', [HIDDEN, NUM_CLASSES], fill(HIDDEN * NUM_CLASSES, 1 / Math.sqrt(HIDDEN))),
    layer('out/bias', [NUM_CLASSES], fill(NUM_CLASSES, 0.01)),
  ];
}

function perturbed(w: Weights, sigma: number, rng: Rng): Weights {
  return w.map((l) => ({ ...l, values: l.values.map((v) => v + sigma * rng.normal()) }));
}

/** Per-class F1 from predictions and labels. */
function f1Scores(pred: Uint8Array, labels: Uint8Array): ClassScores {
  const tp = new Float64Array(NUM_CLASSES);
  const fp = new Float64Array(NUM_CLASSES);
  const fn = new Float64Array(NUM_CLASSES);
  for (let i = 0; i < labels.length; i++) {
    const p = pred[i];
    const y = labels[i];
    if (p === y) tp[y]++;
    else {
      fp[p]++;
      fn[y]++;
    }
  }
  const f1 = tp.map((t, c) => (t === 0 ? 0 : (2 * t) / (2 * t + fp[c] + fn[c])));
  const accuracy = tp.map((t, c) => (t + fn[c] === 0 ? 0 : t / (t + fn[c])));
  const overall = tp.reduce((s, v) => s + v, 0) / labels.length;
  return { f1, accuracy, overallAccuracy: overall, loss: 0 };
}

/** Plain-JS forward pass of the benchmark model over a fixed validation batch. */
function syntheticEvaluator(inputs: number, rng: Rng): (w: Weights) => ClassScores {
  const x = Float32Array.from({ length: VALIDATION_SAMPLES * inputs }, () => rng.normal());
  const labels = Uint8Array.from({ length: VALIDATION_SAMPLES }, () => rng.int(NUM_CLASSES));
  const h = new Float64Array(HIDDEN);
  const pred = new Uint8Array(VALIDATION_SAMPLES);
  return (w) => {
    const [k1, b1, k2, b2] = w.map((l: Layer) => l.values) as [Float32Array, Float32Array, Float32Array, Float32Array];
    for (let s = 0; s < VALIDATION_SAMPLES; s++) {
      h.set(b1);
      for (let i = 0; i < inputs; i++) {
        const xi = x[s * inputs + i];
        const row = i * HIDDEN;
        for (let j = 0; j < HIDDEN; j++) h[j] = h[j] + xi * k1[row + j];
      }
      let best = 0;
      let bestValue = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < NUM_CLASSES; c++) {
        let z = b2[c];
        for (let j = 0; j < HIDDEN; j++) z += Math.max(0, h[j]) * k2[j * NUM_CLASSES + c];
        if (z > bestValue) {
          bestValue = z;
          best = c;
        }
      }
      pred[s] = best;
    }
    return f1Scores(pred, labels);
  };
}

/**
 * Median ms of one merge, each repetition alternated with a memcpy of the same inputs
 * (own and every candidate, layer by layer, into arrays allocated once): at least one
 * repetition, at most MAX_REPS, until MIN_TOTAL_MS of merging.
 */
function measure(run: () => void, memcpy: () => void): Alternated {
  return alternate(memcpy, run, { rounds: MAX_REPS, minSampleMs: 0, minTotalMs: MIN_TOTAL_MS });
}

export interface MergeBenchOptions {
  readonly quick: boolean;
  /** Parameter counts; default by quick. */
  readonly sizes?: readonly number[];
  /** Candidate counts; default by quick. */
  readonly counts?: readonly number[];
  /** Strategy names; default every registered strategy. */
  readonly strategies?: readonly string[];
  /** Called with each measured row. */
  readonly onRow?: (row: MergeRow) => void;
}

export function runMergeBench(options: MergeBenchOptions): MergeRow[] {
  const quick = options.quick;
  const sizes = options.sizes ?? (quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000]);
  const counts = options.counts ?? (quick ? [5, 30] : [5, 10, 30, 100]);
  const rows: MergeRow[] = [];
  const rng = createRng(2024);
  for (const params of sizes) {
    const inputs = inputSizeFor(params);
    const own = randomModel(inputs, rng.fork(`own-${params}`));
    const pool = Array.from({ length: DISTINCT_CANDIDATES }, (_, i) =>
      perturbed(own, 0.05, rng.fork(`c-${params}-${i}`)),
    );
    const actualParams = own.reduce((s, l) => s + l.values.length, 0);
    const synthetic = syntheticEvaluator(inputs, rng.fork(`val-${params}`));
    const table = new Map<Weights, ClassScores>([own, ...pool].map((w) => [w, synthetic(w)]));
    const ownScores = table.get(own) as ClassScores;
    for (const n of counts) {
      const candidates: Candidate[] = Array.from({ length: n }, (_, i) => ({
        peer: `peer-${String(i).padStart(3, '0')}`,
        seq: 1,
        weights: pool[i % DISTINCT_CANDIDATES],
        samples: 100 + i,
      }));
      const memcpy = memcpyOf([own, ...candidates.map((c) => c.weights)]);
      for (const name of options.strategies ?? strategyNames()) {
        const modes: (EvalMode | 'none')[] = EVALUATING.has(name) ? ['precomputed', 'synthetic'] : ['none'];
        for (const mode of modes) {
          const ctx: MergeContext = {
            evaluate: mode === 'synthetic' ? synthetic : (w) => table.get(w) ?? ownScores,
            familiarClasses: [0, 1, 2, 3],
            numClasses: NUM_CLASSES,
            outputLayer: { kernel: 'out/kernel', bias: 'out/bias' },
            ownSamples: 100,
            round: 10,
            rng: createRng(1),
          };
          const strategy = createStrategy(name);
          const m = measure(() => strategy(own, candidates, ctx), memcpy);
          const row: MergeRow = {
            strategy: name,
            params: actualParams,
            candidates: n,
            evaluation: mode,
            reps: m.rounds,
            medianMs: m.ms,
            memcpyMs: m.baselineMs,
            readGBps: ((n + 1) * actualParams * 4) / (m.ms * 1e6),
            ofMemcpy: m.ofBaseline,
          };
          rows.push(row);
          options.onRow?.(row);
        }
      }
    }
  }
  return rows;
}

function main(): void {
  const argv = process.argv.slice(2);
  const args = new Set(argv);
  const quick = args.has('--quick');
  const json = args.has('--json');
  const at = argv.indexOf('--strategies');
  const strategies = at >= 0 ? (argv[at + 1] ?? '').split(',').filter((s) => s !== '') : undefined;
  for (const name of strategies ?? []) {
    if (!strategyNames().includes(name)) throw new Error(`--strategies: unknown strategy "${name}"`);
  }
  const rows = runMergeBench({
    quick,
    strategies,
    onRow: json
      ? undefined
      : (r) =>
          process.stdout.write(
            `${r.strategy.padEnd(18)} ${String(r.params).padStart(8)} ${String(r.candidates).padStart(4)}  ${r.evaluation.padEnd(11)} ${r.medianMs.toFixed(2).padStart(10)} ms  ${r.readGBps.toFixed(2).padStart(6)} GB/s read  ${(r.ofMemcpy * 100).toFixed(1).padStart(5)}% of memcpy  (${r.reps} reps)\n`,
          ),
  });
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ benchmark: 'merge', quick, node: process.version, distinctCandidateModels: DISTINCT_CANDIDATES, validationSamples: VALIDATION_SAMPLES, rows })}\n`,
    );
  }
}

if (import.meta.main) main();
