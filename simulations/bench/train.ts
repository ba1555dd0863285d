/**
 * Training throughput of the default models on MNIST, wasm against cpu in one process.
 *   npm run bench:train [-- --quick] [-- --json]
 *
 * Per model and backend: samples/s of `Trainer` steps (batch 64, after one warm-up step)
 * and achieved GFLOP/s. Convention: one training step costs 3x the forward FLOPs (forward,
 * input gradient, weight gradient), so training FLOPs per sample = 3 x model.flopsPerSample;
 * in head mode only the output layer runs per step, so 3 x 2 x featureSize x classes. Peak
 * reference: a tight 512x512 x 512x512 matMul on each backend. A fixed number of samples is
 * measured per config (far fewer on cpu, ~100x slower on the CNN), so the run stays ~2 min
 * (--quick ~30 s). The machine may be shared: compare ratios measured in the same run.
 */
import * as tf from '@tensorflow/tfjs';
import { loadDataset } from '../../node/datasets.ts';
import { type Dataset, subset } from '../../src/data/dataset.ts';
import { buildModel } from '../../src/model/model.ts';
import { defaultSpec } from '../../src/model/spec.ts';
import { initBackend } from '../../src/train/backend.ts';
import { type Trainable, Trainer } from '../../src/train/trainer.ts';

const BATCH = 64;
const MODEL_SEED = 1;
const BATCH_SEED = 2;
const TRAIN_FLOPS_PER_FORWARD = 3;
const PEAK_SIZE = 512;
/** The two backends compared (both run in Node). */
type BackendName = 'wasm' | 'cpu';
const BACKENDS: readonly BackendName[] = ['wasm', 'cpu'];

interface Config {
  /** Row label. */
  readonly name: string;
  /** defaultSpec name: 'mlp' | 'cnn' | 'cnn-plain'. */
  readonly model: string;
  readonly trainable: Trainable;
  /** Measured training steps per backend: [full run, --quick]; 0 = not measured. */
  readonly steps: Readonly<Record<BackendName, readonly [number, number]>>;
}

// A cpu CNN step of batch 64 takes ~25 s here: 2 steps in the full run, and in --quick one
// step of the RepOpt CNN only (the plain CNN differs by one multiply in the optimizer).
const CONFIGS: readonly Config[] = [
  { name: 'mlp', model: 'mlp', trainable: 'all', steps: { wasm: [150, 40], cpu: [40, 10] } },
  { name: 'cnn (RepOpt)', model: 'cnn', trainable: 'all', steps: { wasm: [40, 10], cpu: [2, 1] } },
  { name: 'cnn-plain', model: 'cnn-plain', trainable: 'all', steps: { wasm: [40, 10], cpu: [1, 0] } },
  { name: 'cnn head (frozen)', model: 'cnn', trainable: 'head', steps: { wasm: [400, 100], cpu: [100, 25] } },
];
/** Fewer measured steps than this: no warm-up step (it would double a slow config's time). */
const MIN_STEPS_FOR_WARMUP = 4;
/** Head mode computes backbone features of the whole training set once: keep it small. */
const HEAD_TRAIN_SAMPLES: Readonly<Record<BackendName, number>> = { wasm: 2048, cpu: 256 };

export interface TrainRow {
  readonly config: string;
  readonly backend: BackendName;
  readonly steps: number;
  readonly samples: number;
  readonly samplesPerSecond: number;
  /** Training FLOPs per sample under the 3x-forward convention. */
  readonly trainFlopsPerSample: number;
  readonly gflops: number;
  /** gflops / the same backend's matMul peak. */
  readonly ofBackendPeak: number;
  /** gflops / the wasm matMul peak. */
  readonly ofWasmPeak: number;
  /** Head mode: one-time backbone feature extraction of the training set (ms), else 0. */
  readonly featureMs: number;
  /** Mean training loss of the measured steps (sanity: it trains). */
  readonly loss: number;
}

export interface TrainBenchResult {
  readonly quick: boolean;
  readonly node: string;
  readonly batch: number;
  readonly peakGflops: Readonly<Record<BackendName, number>>;
  readonly rows: readonly TrainRow[];
  /** wasm samples/s over cpu samples/s per config. */
  readonly wasmOverCpu: Readonly<Record<string, number>>;
}

/** GFLOP/s of a square matMul on the active backend, reading each result back. */
function matMulPeak(reps: number): number {
  const n = PEAK_SIZE;
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  const run = () => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  };
  run(); // warm-up
  const start = performance.now();
  for (let i = 0; i < reps; i++) run();
  const seconds = (performance.now() - start) / 1000;
  tf.dispose([a, b]);
  return (reps * 2 * n * n * n) / seconds / 1e9;
}

function measure(config: Config, backend: BackendName, steps: number, train: Dataset) {
  const model = buildModel(defaultSpec(config.model), train.featureShape, train.numClasses, MODEL_SEED);
  const trainer = new Trainer(model, { batchSize: BATCH, seed: BATCH_SEED, trainable: config.trainable });
  try {
    const data =
      config.trainable === 'head'
        ? subset(
            train,
            Array.from({ length: HEAD_TRAIN_SAMPLES[backend] }, (_, i) => i),
          )
        : train;
    // Warm-up step (kernel set-up; in head mode also the one-time feature extraction).
    const warm = performance.now();
    if (steps >= MIN_STEPS_FOR_WARMUP || config.trainable === 'head') trainer.train(data, { steps: 1 });
    const warmMs = performance.now() - warm;
    const result = trainer.train(data, { steps });
    const samplesPerSecond = result.samples / (result.elapsedMs / 1000);
    const forward = config.trainable === 'head' ? 2 * model.featureSize * model.numClasses : model.flopsPerSample;
    const trainFlopsPerSample = TRAIN_FLOPS_PER_FORWARD * forward;
    return {
      steps,
      samples: result.samples,
      samplesPerSecond,
      trainFlopsPerSample,
      gflops: (samplesPerSecond * trainFlopsPerSample) / 1e9,
      featureMs: config.trainable === 'head' ? warmMs - result.elapsedMs / steps : 0,
      loss: result.loss,
    };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

export async function runTrainBench(options: {
  quick: boolean;
  log?: (line: string) => void;
}): Promise<TrainBenchResult> {
  const log = options.log ?? (() => {});
  const mnist = loadDataset('mnist');
  // Enough samples for the longest wasm config without repeating an epoch in the full run.
  const maxSamples = Math.max(...CONFIGS.map((c) => c.steps.wasm[0] + 1)) * BATCH;
  const train = subset(
    mnist.train,
    Array.from({ length: Math.min(maxSamples, mnist.train.y.length) }, (_, i) => i),
  );
  const peakGflops = { wasm: 0, cpu: 0 };
  const raw: Array<Omit<TrainRow, 'ofBackendPeak' | 'ofWasmPeak'>> = [];
  for (const backend of BACKENDS) {
    await initBackend(backend);
    peakGflops[backend] = matMulPeak(backend === 'wasm' ? (options.quick ? 10 : 30) : options.quick ? 2 : 4);
    log(`${backend}: matMul ${PEAK_SIZE}^3 peak ${peakGflops[backend].toFixed(2)} GFLOP/s`);
    for (const config of CONFIGS) {
      const steps = config.steps[backend][options.quick ? 1 : 0];
      if (steps === 0) continue;
      const row = { config: config.name, backend, ...measure(config, backend, steps, train) };
      log(`${backend}: ${config.name}: ${row.samplesPerSecond.toFixed(1)} samples/s, ${row.gflops.toFixed(3)} GFLOP/s`);
      raw.push(row);
    }
  }
  const rows = raw.map((r) => ({
    ...r,
    ofBackendPeak: r.gflops / peakGflops[r.backend],
    ofWasmPeak: r.gflops / peakGflops.wasm,
  }));
  const wasmOverCpu: Record<string, number> = {};
  for (const c of CONFIGS) {
    const speed = (b: BackendName) => rows.find((r) => r.config === c.name && r.backend === b)?.samplesPerSecond;
    const wasm = speed('wasm');
    const cpu = speed('cpu');
    if (wasm !== undefined && cpu !== undefined) wasmOverCpu[c.name] = wasm / cpu;
  }
  return { quick: options.quick, node: process.version, batch: BATCH, peakGflops, rows, wasmOverCpu };
}

function printTable(r: TrainBenchResult): void {
  console.log(
    `\nbatch ${r.batch}; training FLOPs/sample = 3 x forward (head mode: 3 x the output layer only)` +
      `\nmatMul ${PEAK_SIZE}^3 peak: wasm ${r.peakGflops.wasm.toFixed(2)} GFLOP/s, cpu ${r.peakGflops.cpu.toFixed(2)} GFLOP/s\n`,
  );
  console.log(
    'config               backend  steps  samples/s  MFLOP/sample  GFLOP/s  of peak  of wasm peak  wasm/cpu  loss',
  );
  for (const row of r.rows) {
    const ratio = r.wasmOverCpu[row.config];
    const ratioText = (row.backend === 'wasm' && ratio !== undefined ? ratio.toFixed(1) : '').padStart(8);
    console.log(
      `${row.config.padEnd(21)}${row.backend.padEnd(8)}${String(row.steps).padStart(6)}` +
        `${row.samplesPerSecond.toFixed(1).padStart(11)}${(row.trainFlopsPerSample / 1e6).toFixed(3).padStart(14)}` +
        `${row.gflops.toFixed(3).padStart(9)}${row.ofBackendPeak.toFixed(3).padStart(9)}${row.ofWasmPeak.toFixed(4).padStart(14)}` +
        `  ${ratioText}  ${row.loss.toFixed(3)}` +
        (row.featureMs > 0 ? `  (features once: ${row.featureMs.toFixed(0)} ms)` : ''),
    );
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const result = await runTrainBench({ quick: args.includes('--quick'), log: json ? undefined : console.log });
  if (json) console.log(JSON.stringify(result));
  else printTable(result);
}
