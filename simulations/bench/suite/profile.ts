/**
 * Where a wasm training step goes, with the stock wasm kernels and with our overrides
 * (src/train/kernels OVERRIDDEN_KERNELS), switched back and forth in one process so the
 * ratios hold on a shared machine.
 *   npm exec -- node simulations/bench/suite/profile.ts [--quick] [--json]
 *
 * Per model (default `cnn` and `mlp`, batch 64, MNIST): wall ms per Trainer step (median of
 * rounds) and per-kernel ms per step from tf.profile. Plus the two shapes that motivated
 * the overrides, timed alone: the CNN's Conv2DBackpropInput and a dense layer's dW / dx.
 */
import * as tf from '@tensorflow/tfjs';
import { loadDataset } from '../../../node/datasets.ts';
import { type Dataset, subset } from '../../../src/data/dataset.ts';
import { buildModel } from '../../../src/model/model.ts';
import { defaultSpec } from '../../../src/model/spec.ts';
import { initBackend } from '../../../src/train/backend.ts';
import { OVERRIDDEN_KERNELS, wrappedWasmKernel } from '../../../src/train/kernels/index.ts';
import { Trainer } from '../../../src/train/trainer.ts';

const BATCH = 64;
const WASM = 'wasm';
/** Kernels listed per model; the rest are summed as "other". */
const TOP_KERNELS = 6;

export type KernelSet = 'stock' | 'ours';

export interface StepProfile {
  readonly model: string;
  readonly kernels: KernelSet;
  /** Median wall ms per training step. */
  readonly stepMs: number;
  /** Kernel ms per step by kernel name (from tf.profile), largest first. */
  readonly kernelMs: ReadonlyArray<readonly [string, number]>;
}

export interface MicroTiming {
  readonly label: string;
  readonly stockMs: number;
  readonly oursMs: number;
}

export interface ProfileBenchResult {
  readonly steps: readonly StepProfile[];
  readonly micro: readonly MicroTiming[];
  /** stock step ms / ours step ms per model. */
  readonly speedup: Readonly<Record<string, number>>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function profileSteps(trainer: Trainer, data: Dataset, steps: number) {
  let wall = 0;
  const info = await tf.profile(() => {
    const start = performance.now();
    trainer.train(data, { steps });
    wall = performance.now() - start;
  });
  const byName = new Map<string, number>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byName.set(k.name, (byName.get(k.name) ?? 0) + ms / steps);
  }
  return { wallPerStep: wall / steps, byName };
}

function timeMs(reps: number, fn: () => tf.Tensor): number {
  fn().dispose();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    const out = fn();
    out.dataSync();
    times.push(performance.now() - start);
    out.dispose();
  }
  return median(times);
}

export async function runProfileBench(options: {
  quick: boolean;
  log?: (line: string) => void;
}): Promise<ProfileBenchResult> {
  const log = options.log ?? (() => {});
  await initBackend(WASM);
  const stock = new Map<string, tf.KernelConfig>();
  const ours = new Map<string, tf.KernelConfig>();
  for (const { kernelName } of OVERRIDDEN_KERNELS) {
    const wrapped = wrappedWasmKernel(kernelName);
    const current = tf.getKernel(kernelName, WASM);
    if (wrapped === undefined || current === undefined) continue;
    stock.set(kernelName, wrapped);
    ours.set(kernelName, current);
  }
  const use = (set: KernelSet) => {
    for (const [name, config] of set === 'ours' ? ours : stock) {
      tf.unregisterKernel(name, WASM);
      tf.registerKernel(config);
    }
  };
  const rounds = options.quick ? 2 : 4;
  const stepsPerRound = { cnn: options.quick ? 3 : 5, mlp: options.quick ? 10 : 20 };
  const mnist = loadDataset('mnist');
  const data = subset(
    mnist.train,
    Array.from({ length: 64 * BATCH }, (_, i) => i),
  );
  const steps: StepProfile[] = [];
  const speedup: Record<string, number> = {};
  try {
    for (const name of ['cnn', 'mlp'] as const) {
      const model = buildModel(defaultSpec(name), data.featureShape, data.numClasses, 1);
      const trainer = new Trainer(model, { batchSize: BATCH, seed: 2 });
      const walls: Record<KernelSet, number[]> = { stock: [], ours: [] };
      const kernels: Record<KernelSet, Map<string, number>> = { stock: new Map(), ours: new Map() };
      for (let round = 0; round < rounds; round++) {
        // Alternate the order so slow phases of the shared machine hit both sets.
        const order: KernelSet[] = round % 2 === 0 ? ['stock', 'ours'] : ['ours', 'stock'];
        for (const set of order) {
          use(set);
          trainer.train(data, { steps: 1 }); // warm-up (operator creation)
          const p = await profileSteps(trainer, data, stepsPerRound[name]);
          walls[set].push(p.wallPerStep);
          for (const [k, ms] of p.byName) kernels[set].set(k, (kernels[set].get(k) ?? 0) + ms / rounds);
        }
      }
      for (const set of ['stock', 'ours'] as const) {
        const sorted = [...kernels[set].entries()].sort((a, b) => b[1] - a[1]);
        const top = sorted.slice(0, TOP_KERNELS);
        const other = sorted.slice(TOP_KERNELS).reduce((s, [, ms]) => s + ms, 0);
        const row = {
          model: name,
          kernels: set,
          stepMs: median(walls[set]),
          kernelMs: [...top, ['other', other] as const],
        };
        steps.push(row);
        log(
          `${name} ${set}: ${row.stepMs.toFixed(1)} ms/step; ${top.map(([k, ms]) => `${k} ${ms.toFixed(1)}`).join(', ')}`,
        );
      }
      speedup[name] = median(walls.stock) / median(walls.ours);
      trainer.dispose();
      model.dispose();
    }
    const micro = microTimings(use, options.quick ? 5 : 15);
    for (const m of micro) log(`${m.label}: stock ${m.stockMs.toFixed(2)} ms, ours ${m.oursMs.toFixed(2)} ms`);
    return { steps, micro, speedup };
  } finally {
    use('ours');
  }
}

function microTimings(use: (set: KernelSet) => void, reps: number): MicroTiming[] {
  const shapes = {
    dy: tf.randomNormal([BATCH, 14, 14, 32], 0, 1, 'float32', 1),
    w: tf.randomNormal([3, 3, 32, 32], 0, 1, 'float32', 2),
    x: tf.randomNormal([BATCH, 784], 0, 1, 'float32', 3),
    dh: tf.randomNormal([BATCH, 256], 0, 1, 'float32', 4),
    w1: tf.randomNormal([784, 256], 0, 1, 'float32', 5),
  };
  const cases: Array<[string, () => tf.Tensor]> = [
    [
      'Conv2DBackpropInput dy [64,14,14,32], W 3x3x32x32, same',
      () => tf.conv2dTranspose(shapes.dy as tf.Tensor4D, shapes.w as tf.Tensor4D, [BATCH, 14, 14, 32], 1, 'same'),
    ],
    ['matMul x^T dy (transposeA) [64,784]^T [64,256]', () => tf.matMul(shapes.x, shapes.dh, true, false)],
    ['matMul dy W^T (transposeB) [64,256] [784,256]^T', () => tf.matMul(shapes.dh, shapes.w1, false, true)],
  ];
  const result: MicroTiming[] = [];
  for (const [label, fn] of cases) {
    use('stock');
    const stockMs = timeMs(reps, fn);
    use('ours');
    const oursMs = timeMs(reps, fn);
    result.push({ label, stockMs, oursMs });
  }
  tf.dispose(Object.values(shapes));
  return result;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const result = await runProfileBench({ quick: args.includes('--quick'), log: json ? undefined : console.log });
  if (json) console.log(JSON.stringify(result));
  else
    for (const [model, x] of Object.entries(result.speedup))
      console.log(`${model}: step ${x.toFixed(2)}x faster with our kernels`);
}
