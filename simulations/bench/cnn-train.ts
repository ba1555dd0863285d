/**
 * Training and evaluation speed of the three CNN kinds on one architecture ([[16], [32, 32]],
 * dense 64, 28x28x1, 10 classes): plain, RepOpt (plain convs, gradient multipliers) and
 * RepVGG (3x3 + 1x1 + identity branches with BatchNorm, trained as branches). Each kind is
 * timed alternately against the plain CNN in one process (suite/alternate.ts), so the ratio
 * holds on a shared machine; the per-step milliseconds move with the load. CPU milliseconds
 * per step (process.cpuUsage; tfjs-wasm runs on this one thread in Node) move far less with
 * the load, so they are the absolute number to read on a busy machine.
 *   npx node simulations/bench/cnn-train.ts [--batch 32] [--rounds 9] [--backend wasm|cpu]
 * The step is one SGD step of `Trainer` (the scenario default batch 32, lr 0.02, momentum
 * 0.9) on seeded random inputs; evaluation is the logits of 500 samples, read back (what a
 * peer computes per evaluation of the scenario's test subset, in batches of 512).
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../src/data/rng.ts';
import { buildModel } from '../../src/model/model.ts';
import { defaultSpec, parameterCountOf } from '../../src/model/spec.ts';
import { initBackend } from '../../src/train/backend.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { alternate, median } from './suite/alternate.ts';
import { currentLoad, describeMachine } from './suite/machine.ts';

const SHAPE = [28, 28, 1];
const CLASSES = 10;
const KINDS = ['cnn-plain', 'cnn', 'cnn-repvgg'] as const;
const LABELS: Readonly<Record<(typeof KINDS)[number], string>> = {
  'cnn-plain': 'plain',
  cnn: 'RepOpt',
  'cnn-repvgg': 'RepVGG',
};
const TRAIN_SAMPLES = 1024;
const EVAL_SAMPLES = 500;
/** One sample lasts at least this long, so per-call overheads do not dominate. */
const MIN_SAMPLE_MS = 300;
/** Steps per CPU-time sample. */
const CPU_CALLS = 3;

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

export interface CnnTrainRow {
  readonly kind: string;
  readonly parameters: number;
  readonly stepMs: number;
  /** Plain step time / this kind's step time (median of alternated ratios; 1 for plain). */
  readonly stepSpeedOfPlain: number;
  readonly evalMs: number;
  readonly evalSpeedOfPlain: number;
  /** Median CPU milliseconds (user + system) of one step / one evaluation. */
  readonly stepCpuMs: number;
  readonly evalCpuMs: number;
}

/** CPU ms (user + system) per call of `fn`, over `calls` calls. */
function cpuMs(fn: () => void, calls: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) fn();
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000 / calls;
}

function randomData(n: number, seed: number) {
  const rng = createRng(seed);
  return {
    x: Float32Array.from({ length: n * 28 * 28 }, () => rng.next()),
    y: Uint8Array.from({ length: n }, () => Math.floor(rng.next() * CLASSES)),
  };
}

export async function runCnnTrainBench(
  options: { batch?: number; rounds?: number; backend?: 'wasm' | 'cpu' } = {},
): Promise<{ backend: string; batch: number; rounds: number; load: number; rows: CnnTrainRow[] }> {
  const batch = options.batch ?? 32;
  const rounds = options.rounds ?? 9;
  const backend = await initBackend(options.backend ?? 'wasm');
  const { x, y } = randomData(TRAIN_SAMPLES, 3);
  const train = { x, y, featureShape: SHAPE, numClasses: CLASSES };
  const evalX = tf.tensor(randomData(EVAL_SAMPLES, 4).x, [EVAL_SAMPLES, ...SHAPE]);
  const setups = KINDS.map((kind) => {
    const model = buildModel(defaultSpec(kind), SHAPE, CLASSES, 1);
    const trainer = new Trainer(model, { batchSize: batch, seed: 2, optimizer: { learningRate: 0.02, momentum: 0.9 } });
    const step = () => {
      trainer.train(train, { steps: 1 });
    };
    const evaluate = () => {
      const out = model.logits(evalX);
      out.dataSync();
      out.dispose();
    };
    step(); // warm-up: kernel set-up
    evaluate();
    return { kind, model, trainer, step, evaluate };
  });
  try {
    const plain = setups[0];
    const rows: CnnTrainRow[] = [];
    for (const s of setups) {
      const t = alternate(plain.step, s.step, { rounds, minSampleMs: MIN_SAMPLE_MS });
      const e = alternate(plain.evaluate, s.evaluate, { rounds, minSampleMs: MIN_SAMPLE_MS });
      const stepCpu: number[] = [];
      const evalCpu: number[] = [];
      for (let i = 0; i < rounds; i++) {
        stepCpu.push(cpuMs(s.step, CPU_CALLS));
        evalCpu.push(cpuMs(s.evaluate, 1));
      }
      rows.push({
        kind: s.kind,
        parameters: parameterCountOf(defaultSpec(s.kind), SHAPE, CLASSES),
        stepMs: t.ms,
        stepSpeedOfPlain: t.ofBaseline,
        evalMs: e.ms,
        evalSpeedOfPlain: e.ofBaseline,
        stepCpuMs: median(stepCpu),
        evalCpuMs: median(evalCpu),
      });
    }
    return { backend, batch, rounds, load: currentLoad(), rows };
  } finally {
    for (const s of setups) {
      s.trainer.dispose();
      s.model.dispose();
    }
    evalX.dispose();
  }
}

if (import.meta.main) {
  const backend = flag('backend', 'wasm');
  if (backend !== 'wasm' && backend !== 'cpu') throw new Error('--backend must be wasm or cpu');
  const r = await runCnnTrainBench({
    batch: Number(flag('batch', '32')),
    rounds: Number(flag('rounds', '9')),
    backend,
  });
  const m = describeMachine();
  console.log(
    `CNN [[16], [32, 32]] dense 64 on 28x28x1, batch ${r.batch}, ${r.backend}, ${r.rounds} alternated rounds ` +
      `against plain, load ${r.load.toFixed(1)} (${m.cores} cores)`,
  );
  console.log('model    parameters  ms/step  speed of plain  CPU ms/step  ms/eval of 500  speed of plain  CPU ms/eval');
  for (const row of r.rows) {
    const label = LABELS[row.kind as (typeof KINDS)[number]];
    console.log(
      `${label.padEnd(9)}${String(row.parameters).padStart(10)}${row.stepMs.toFixed(1).padStart(9)}` +
        `${row.stepSpeedOfPlain.toFixed(2).padStart(16)}${row.stepCpuMs.toFixed(1).padStart(13)}` +
        `${row.evalMs.toFixed(1).padStart(16)}${row.evalSpeedOfPlain.toFixed(2).padStart(16)}${row.evalCpuMs.toFixed(1).padStart(13)}`,
    );
  }
}
