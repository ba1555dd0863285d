/**
 * Benchmark of the wasm training kernels against the cpu backend, in one process (the
 * numbers are only meaningful as ratios on a shared machine).
 *   npm exec -- node simulations/bench/kernels.ts [--cpu-steps N]
 * The cpu backend is very slow here (tens of seconds per call), so it runs few repetitions.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../src/data/rng.ts';
import { initBackend } from '../../src/train/backend.ts';

type Backend = 'wasm' | 'cpu';

const BATCH = 64;
const FILTER_CASE = { x: [BATCH, 28, 28, 16], filter: [3, 3, 16, 32], stride: 1, pad: 'same' as const };
const WASM_REPS = 10;
const cpuFlag = process.argv.indexOf('--cpu-steps');
const CPU_REPS = cpuFlag > 0 ? Number(process.argv[cpuFlag + 1]) : 1;

function randomValues(size: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: size }, () => rng.normal());
}

/** Mean ms per call of `fn` after one warm-up call; fn returns a tensor we read back. */
function timeCalls(reps: number, fn: () => tf.Tensor): number {
  fn().dispose();
  const start = performance.now();
  for (let i = 0; i < reps; i++) {
    const out = fn();
    out.dataSync();
    out.dispose();
  }
  return (performance.now() - start) / reps;
}

async function filterGradientMs(backend: Backend, reps: number): Promise<number> {
  await initBackend(backend);
  const { x: xShape, filter, stride, pad } = FILTER_CASE;
  const x = tf.tensor4d(
    randomValues(
      xShape.reduce((a, b) => a * b),
      1,
    ),
    xShape as [number, number, number, number],
  );
  const dyShape = [BATCH, 28, 28, filter[3]] as [number, number, number, number];
  const dy = tf.tensor4d(
    randomValues(
      dyShape.reduce((a, b) => a * b),
      2,
    ),
    dyShape,
  );
  const attrs = { strides: stride, pad, dataFormat: 'NHWC', filterShape: filter };
  const ms = timeCalls(reps, () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor);
  tf.dispose([x, dy]);
  return ms;
}

function buildCnn(): tf.Sequential {
  const model = tf.sequential();
  model.add(
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
  );
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  model.compile({ optimizer: tf.train.sgd(0.05), loss: 'categoricalCrossentropy' });
  return model;
}

/** Samples per second of model.trainOnBatch with a batch of 64 MNIST-sized images. */
async function cnnSamplesPerSecond(backend: Backend, steps: number): Promise<number> {
  await initBackend(backend);
  const model = buildCnn();
  const x = tf.tensor4d(randomValues(BATCH * 28 * 28, 3), [BATCH, 28, 28, 1]);
  const labels = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: BATCH }, (_, i) => i % 10),
      'int32',
    ),
    10,
  );
  await model.trainOnBatch(x, labels); // warm-up
  const start = performance.now();
  for (let i = 0; i < steps; i++) await model.trainOnBatch(x, labels);
  const seconds = (performance.now() - start) / 1000;
  tf.dispose([x, labels]);
  model.dispose();
  return (steps * BATCH) / seconds;
}

const filterWasm = await filterGradientMs('wasm', WASM_REPS);
const filterCpu = await filterGradientMs('cpu', CPU_REPS);
console.log(
  `Conv2DBackpropFilter x[64,28,28,16] -> 3x3x16x32 same: wasm ${filterWasm.toFixed(1)} ms, ` +
    `cpu ${filterCpu.toFixed(0)} ms, speed-up ${(filterCpu / filterWasm).toFixed(0)}x`,
);
const cnnWasm = await cnnSamplesPerSecond('wasm', WASM_REPS);
const cnnCpu = await cnnSamplesPerSecond('cpu', CPU_REPS);
console.log(
  `CNN train step (conv16+pool+conv32+pool+dense10, 28x28x1, batch 64): wasm ${cnnWasm.toFixed(0)} samples/s, ` +
    `cpu ${cnnCpu.toFixed(1)} samples/s, speed-up ${(cnnWasm / cnnCpu).toFixed(0)}x`,
);
