/**
 * Inference speed of a RepVGG CNN exported fused (one 3x3 conv per block, `meshfl export`)
 * against the branched model it was trained as (3x3 + 1x1 + identity, each with BatchNorm),
 * measured alternately in one process (suite/alternate.ts): the ratio is what to read on a
 * shared machine. Both compute the same logits (test/model/export.test.ts checks 1e-4).
 *   npm run bench:export [-- --batch 256] [-- --rounds 15] [-- --backend wasm|cpu]
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../src/data/rng.ts';
import { toLayersModel } from '../../src/model/export.ts';
import { buildModel } from '../../src/model/model.ts';
import { DEFAULT_CNN, type ModelSpec } from '../../src/model/spec.ts';
import { initBackend } from '../../src/train/backend.ts';
import { alternate } from './suite/alternate.ts';
import { currentLoad, describeMachine } from './suite/machine.ts';

const SHAPE = [28, 28, 1];
const CLASSES = 10;
/** One sample lasts at least this long, so per-call overheads do not dominate. */
const MIN_SAMPLE_MS = 200;

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

export interface ExportBenchResult {
  readonly backend: string;
  readonly batch: number;
  readonly branchedSamplesPerS: number;
  readonly fusedSamplesPerS: number;
  /** Fused speed over branched speed (median of per-round ratios). */
  readonly speedup: number;
  readonly rounds: number;
  readonly load: number;
}

export async function runExportBench(
  options: { batch?: number; rounds?: number; backend?: 'wasm' | 'cpu' } = {},
): Promise<ExportBenchResult> {
  const batch = options.batch ?? 256;
  const rounds = options.rounds ?? 15;
  const backend = await initBackend(options.backend ?? 'wasm');
  const spec: ModelSpec = { ...DEFAULT_CNN, reparam: 'repvgg', batchNormStats: 'merge' };
  const model = buildModel(spec, SHAPE, CLASSES, 1);
  const fused = toLayersModel(model, { activation: 'linear' });
  const rng = createRng(2);
  const x = tf.tensor(
    Float32Array.from({ length: batch * 28 * 28 }, () => rng.next()),
    [batch, ...SHAPE],
  );
  // Read the result back each call: otherwise an async backend would time the dispatch only.
  const branchedCall = () => {
    const y = model.logits(x);
    y.dataSync();
    y.dispose();
  };
  const fusedCall = () => {
    const y = fused.predict(x) as tf.Tensor;
    y.dataSync();
    y.dispose();
  };
  try {
    const r = alternate(branchedCall, fusedCall, { rounds, minSampleMs: MIN_SAMPLE_MS });
    return {
      backend,
      batch,
      branchedSamplesPerS: (batch * 1000) / r.baselineMs,
      fusedSamplesPerS: (batch * 1000) / r.ms,
      speedup: r.ofBaseline,
      rounds: r.rounds,
      load: currentLoad(),
    };
  } finally {
    x.dispose();
    fused.dispose();
    model.dispose();
  }
}

if (import.meta.main) {
  const backend = flag('backend', 'wasm');
  if (backend !== 'wasm' && backend !== 'cpu') throw new Error('--backend must be wasm or cpu');
  const r = await runExportBench({
    batch: Number(flag('batch', '256')),
    rounds: Number(flag('rounds', '15')),
    backend,
  });
  const m = describeMachine();
  console.log(
    `RepVGG CNN ${JSON.stringify(DEFAULT_CNN.stages)} dense ${DEFAULT_CNN.dense} on 28x28x1, batch ${r.batch}, ${r.backend}, ` +
      `${r.rounds} alternated rounds, load ${r.load.toFixed(1)} (${m.cores} cores)\n` +
      `  branched (train-time blocks, inference mode): ${r.branchedSamplesPerS.toFixed(0)} samples/s\n` +
      `  fused export (one 3x3 conv per block):       ${r.fusedSamplesPerS.toFixed(0)} samples/s\n` +
      `  fused / branched: ${r.speedup.toFixed(2)}x (median of per-round ratios)`,
  );
}
