/**
 * The training kernels we add to the wasm backend must give the cpu backend's gradients.
 * Each case builds the same seeded inputs on both backends, takes gradients with tf.grads
 * (which runs our kernels on wasm) and compares them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '../../src/data/rng.ts';
import { initBackend } from '../../src/train/backend.ts';
import { setPatchBudgetFloats } from '../../src/train/kernels/conv2d-backprop-filter.ts';
import { assertClose, assertWasmMatchesCpu, type Pad, size, TOLERANCE, uniform } from './wasm-vs-cpu.ts';

interface ConvCase {
  batch: number;
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
  filter: [number, number];
  stride: 1 | 2;
  pad: Pad;
}

const FIXED_CONV_CASES: ConvCase[] = [
  { batch: 2, height: 7, width: 9, inChannels: 3, outChannels: 4, filter: [3, 3], stride: 2, pad: 'same' },
  { batch: 3, height: 8, width: 8, inChannels: 5, outChannels: 2, filter: [3, 3], stride: 1, pad: 'valid' },
  { batch: 2, height: 9, width: 9, inChannels: 4, outChannels: 3, filter: [5, 5], stride: 2, pad: 'valid' },
  { batch: 1, height: 5, width: 6, inChannels: 1, outChannels: 8, filter: [3, 2], stride: 1, pad: 'same' },
  { batch: 2, height: 6, width: 7, inChannels: 16, outChannels: 5, filter: [1, 1], stride: 2, pad: 'same' },
  {
    batch: 2,
    height: 6,
    width: 7,
    inChannels: 3,
    outChannels: 4,
    filter: [3, 3],
    stride: 1,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
];

function randomConvCases(rng: Rng, count: number): ConvCase[] {
  const cases: ConvCase[] = [];
  for (let i = 0; i < count; i++) {
    const filterSize = 1 + rng.int(4);
    cases.push({
      batch: 1 + rng.int(3),
      height: filterSize + rng.int(7),
      width: filterSize + rng.int(7),
      inChannels: [1, 2, 3, 8, 16][rng.int(5)],
      outChannels: [1, 4, 7, 12][rng.int(4)],
      filter: [filterSize, filterSize],
      stride: rng.int(2) === 0 ? 1 : 2,
      pad: rng.int(2) === 0 ? 'same' : 'valid',
    });
  }
  return cases;
}

function describe(c: ConvCase): string {
  return `x[${c.batch},${c.height},${c.width},${c.inChannels}] f${c.filter.join('x')} s${c.stride} ${JSON.stringify(c.pad)}`;
}

/** Gradients of sum(op(x, w) · r) for a random r, so that dy is random, not all ones. */
function convGradients(c: ConvCase, seed: number, filterShape: number[], op: typeof tf.conv2d): () => tf.Tensor[] {
  const rng = createRng(seed);
  const xShape = [c.batch, c.height, c.width, c.inChannels];
  const xValues = uniform(rng, size(xShape));
  const wValues = uniform(rng, size(filterShape));
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    c.stride,
    1,
    c.pad,
    undefined,
    op === (tf.depthwiseConv2d as unknown),
  );
  const outPixels = c.batch * info.outHeight * info.outWidth;
  // Scaled so the filter gradient, a sum over all output pixels, stays of order 1.
  const rValues = uniform(rng, size(info.outShape), 1 / Math.sqrt(outPixels));
  return () => {
    const x = tf.tensor4d(xValues, xShape as [number, number, number, number]);
    const w = tf.tensor4d(wValues, filterShape as [number, number, number, number]);
    const r = tf.tensor(rValues, info.outShape);
    const loss = (a: tf.Tensor, b: tf.Tensor) =>
      op(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad)
        .mul(r)
        .sum();
    return tf.grads(loss)([x, w]);
  };
}

test('Conv2DBackpropFilter on wasm matches cpu (conv2d gradients, fixed and random shapes)', async () => {
  const cases = [...FIXED_CONV_CASES, ...randomConvCases(createRng(11), 10)];
  for (const [i, c] of cases.entries()) {
    const filterShape = [...c.filter, c.inChannels, c.outChannels];
    await assertWasmMatchesCpu(describe(c), convGradients(c, 100 + i, filterShape, tf.conv2d));
  }
});

/**
 * The im2col-free path (stride 1, in channels % 4 = 0, out channels % 8 = 0): same, valid,
 * explicit and asymmetric padding, filters 1x1 to 5x5 and non-square, and enough pixels
 * (3 x 17 x 19 = 969 grid pixels at 3x3) for several GEMM blocks of 512.
 */
const GRID_CASES: ConvCase[] = [
  { batch: 3, height: 15, width: 17, inChannels: 4, outChannels: 8, filter: [3, 3], stride: 1, pad: 'same' },
  { batch: 2, height: 14, width: 14, inChannels: 16, outChannels: 32, filter: [3, 3], stride: 1, pad: 'same' },
  { batch: 2, height: 9, width: 8, inChannels: 8, outChannels: 16, filter: [5, 5], stride: 1, pad: 'valid' },
  { batch: 2, height: 6, width: 7, inChannels: 4, outChannels: 8, filter: [1, 1], stride: 1, pad: 'same' },
  { batch: 1, height: 7, width: 9, inChannels: 12, outChannels: 8, filter: [3, 2], stride: 1, pad: 'same' },
  {
    batch: 2,
    height: 6,
    width: 7,
    inChannels: 4,
    outChannels: 8,
    filter: [3, 3],
    stride: 1,
    pad: [
      [0, 0],
      [2, 0],
      [0, 1],
      [0, 0],
    ],
  },
];

test('Conv2DBackpropFilter without im2col (stride 1, channels in 4s and 8s) on wasm matches cpu', async () => {
  for (const [i, c] of GRID_CASES.entries()) {
    const filterShape = [...c.filter, c.inChannels, c.outChannels];
    await assertWasmMatchesCpu(`grid ${describe(c)}`, convGradients(c, 300 + i, filterShape, tf.conv2d));
  }
});

test('Conv2DBackpropFilter splits big batches into chunks with the same result', async () => {
  const c: ConvCase = {
    batch: 5,
    height: 9,
    width: 9,
    inChannels: 4,
    outChannels: 3,
    filter: [3, 3],
    stride: 1,
    pad: 'same',
  };
  // 81 pixels x 36 taps per image: a budget of 6000 floats takes two images at a time.
  const previous = setPatchBudgetFloats(6000);
  try {
    await assertWasmMatchesCpu(`chunked ${describe(c)}`, convGradients(c, 7, [3, 3, 4, 3], tf.conv2d));
  } finally {
    setPatchBudgetFloats(previous);
  }
});

test('Conv2DBackpropFilter on wasm accepts NCHW inputs', async () => {
  const rng = createRng(5);
  const xValues = uniform(rng, 2 * 3 * 7 * 6);
  const dyValues = uniform(rng, 2 * 4 * 4 * 3);
  await assertWasmMatchesCpu('NCHW', () => [
    tf
      .engine()
      .runKernel(
        'Conv2DBackpropFilter',
        { x: tf.tensor4d(xValues, [2, 3, 7, 6]), dy: tf.tensor4d(dyValues, [2, 4, 4, 3]) },
        { strides: 2, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 4] },
      ) as tf.Tensor,
  ]);
});

test('depthwise conv gradients on wasm match cpu (backprop filter and input)', async () => {
  const rng = createRng(23);
  const cases: (ConvCase & { multiplier: number })[] = [
    {
      batch: 2,
      height: 7,
      width: 9,
      inChannels: 3,
      outChannels: 3,
      filter: [3, 3],
      stride: 2,
      pad: 'same',
      multiplier: 1,
    },
    {
      batch: 1,
      height: 8,
      width: 7,
      inChannels: 4,
      outChannels: 8,
      filter: [3, 3],
      stride: 1,
      pad: 'valid',
      multiplier: 2,
    },
    {
      batch: 3,
      height: 9,
      width: 9,
      inChannels: 2,
      outChannels: 6,
      filter: [5, 5],
      stride: 2,
      pad: 'valid',
      multiplier: 3,
    },
  ];
  for (let i = 0; i < 8; i++) {
    const multiplier = 1 + rng.int(3);
    const [base] = randomConvCases(rng, 1);
    cases.push({ ...base, outChannels: base.inChannels * multiplier, multiplier });
  }
  for (const [i, c] of cases.entries()) {
    const filterShape = [...c.filter, c.inChannels, c.multiplier];
    const op = tf.depthwiseConv2d as unknown as typeof tf.conv2d;
    await assertWasmMatchesCpu(`depthwise m${c.multiplier} ${describe(c)}`, convGradients(c, 200 + i, filterShape, op));
  }
});

test('UnsortedSegmentSum on wasm matches cpu (gather gradient, ids out of range dropped)', async () => {
  const rng = createRng(31);
  const table = uniform(rng, 10 * 6);
  const indices = Int32Array.from({ length: 14 }, () => rng.int(10));
  const rows = uniform(rng, 7 * 3);
  const segmentIds = Int32Array.from([0, 2, 2, -1, 4, 5, 1]);
  await assertWasmMatchesCpu('segment sum', () => {
    const gatherGrad = tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d(indices, 'int32')).square().sum());
    return [
      gatherGrad(tf.tensor2d(table, [10, 6])),
      tf.unsortedSegmentSum(tf.tensor2d(rows, [7, 3]), tf.tensor1d(segmentIds, 'int32'), 5),
    ];
  });
});

test('MaxPoolGrad on wasm (our replacement) matches cpu, overlapping windows and padding', async () => {
  const rng = createRng(37);
  const cases: { shape: [number, number, number, number]; size: number; stride: number; pad: 'same' | 'valid' }[] = [
    { shape: [2, 9, 7, 3], size: 3, stride: 2, pad: 'same' },
    { shape: [3, 8, 8, 16], size: 2, stride: 2, pad: 'valid' },
    { shape: [1, 7, 9, 5], size: 3, stride: 1, pad: 'same' },
    { shape: [16, 14, 14, 8], size: 2, stride: 2, pad: 'valid' },
    // The specialised 2x2 / stride 2 loop: odd sizes (last row and column unused), 'same'
    // on even sizes (no padding), and 'same' on odd sizes (padded: the general loop).
    { shape: [2, 7, 9, 4], size: 2, stride: 2, pad: 'valid' },
    { shape: [2, 6, 8, 3], size: 2, stride: 2, pad: 'same' },
    { shape: [2, 7, 5, 3], size: 2, stride: 2, pad: 'same' },
  ];
  for (const [i, c] of cases.entries()) {
    // Every other case on a coarse grid of values, so windows hold ties (the first one wins).
    const values = uniform(rng, size(c.shape)).map((v) => (i % 2 === 1 ? Math.round(v * 2) : v));
    const r = uniform(rng, 16 * 14 * 14 * 8);
    await assertWasmMatchesCpu(`maxPool ${c.shape} ${c.size}/${c.stride} ${c.pad}`, () => {
      const loss = (x: tf.Tensor) => {
        const y = tf.maxPool(x as tf.Tensor4D, c.size, c.stride, c.pad);
        return y.mul(tf.tensor(r.subarray(0, y.size), y.shape)).sum();
      };
      return [tf.grad(loss)(tf.tensor4d(values, c.shape))];
    });
  }
});

// A small CNN with everything a conv net with batch norm needs: 'same' conv, batch norm,
// relu, max pooling, strided conv, depthwise conv, average pooling, flatten, dense.
const IMAGE: [number, number, number] = [10, 10, 2];
const CLASSES = 3;
const SAMPLES = 24;

function buildCnn(): tf.Sequential {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const model = tf.sequential();
  model.add(
    tf.layers.conv2d({ inputShape: IMAGE, filters: 6, kernelSize: 3, padding: 'same', kernelInitializer: init(1) }),
  );
  model.add(tf.layers.batchNormalization());
  // Batch norm before relu: after it, max-pool windows could tie (all equal), and the
  // backends break ties differently, which is not what this test is about.
  model.add(tf.layers.activation({ activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(
    tf.layers.conv2d({
      filters: 8,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(2),
    }),
  );
  model.add(
    tf.layers.depthwiseConv2d({
      kernelSize: 3,
      depthMultiplier: 2,
      padding: 'same',
      activation: 'relu6',
      depthwiseInitializer: init(3),
    }),
  );
  model.add(tf.layers.averagePooling2d({ poolSize: 2, padding: 'same' }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: init(4) }));
  return model;
}

/** Noise plus a bright 3x3 blob whose place (and channel) depends on the class. */
function cnnData(seed: number): { images: Float32Array; labels: Float32Array } {
  const rng = createRng(seed);
  const [h, w, c] = IMAGE;
  const images = uniform(rng, SAMPLES * h * w * c, 0.3);
  const labels = new Float32Array(SAMPLES * CLASSES);
  for (let n = 0; n < SAMPLES; n++) {
    const label = rng.int(CLASSES);
    labels[n * CLASSES + label] = 1;
    const top = 1 + 3 * label;
    for (let y = top; y < top + 3; y++) {
      for (let x = top; x < top + 3; x++) images[((n * h + y) * w + x) * c + (label % c)] += 1;
    }
  }
  return { images, labels };
}

function crossEntropy(model: tf.Sequential, x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  const p = model.apply(x, { training: true }) as tf.Tensor;
  return tf.metrics.categoricalCrossentropy(y, p).mean() as tf.Scalar;
}

test('a small CNN with batch norm: first-step gradients on wasm match cpu', async () => {
  const { images, labels } = cnnData(41);
  let initialWeights: Float32Array[] = [];
  const gradients = async (backend: 'wasm' | 'cpu') => {
    await initBackend(backend);
    const model = buildCnn();
    if (initialWeights.length === 0) {
      initialWeights = model.getWeights().map((t) => Float32Array.from(t.dataSync()));
    } else {
      model.setWeights(initialWeights.map((v, i) => tf.tensor(v, model.getWeights()[i].shape)));
    }
    const x = tf.tensor4d(images, [SAMPLES, ...IMAGE]);
    const y = tf.tensor2d(labels, [SAMPLES, CLASSES]);
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => crossEntropy(model, x, y), variables);
    const result = [value, ...variables.map((v) => grads[v.name])].map((t) => Float32Array.from(t.dataSync()));
    tf.dispose([x, y, value, grads]);
    model.dispose();
    return result;
  };
  const cpu = await gradients('cpu');
  const wasm = await gradients('wasm');
  assert.equal(wasm.length, cpu.length);
  // Observed differences are ~1e-7: float32 rounding only.
  for (let k = 0; k < cpu.length; k++) assertClose(wasm[k], cpu[k], k === 0 ? 'loss' : `gradient ${k}`, TOLERANCE);
});

test('a small CNN with batch norm trains on wasm: loss decreases', async () => {
  await initBackend('wasm');
  const { images, labels } = cnnData(43);
  const model = buildCnn();
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
  const x = tf.tensor4d(images, [SAMPLES, ...IMAGE]);
  const y = tf.tensor2d(labels, [SAMPLES, CLASSES]);
  const history = await model.fit(x, y, { epochs: 12, batchSize: SAMPLES, shuffle: false, verbose: 0 });
  const losses = history.history.loss as number[];
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(losses[losses.length - 1] < 0.7 * losses[0], `loss did not decrease enough: ${losses}`);
  tf.dispose([x, y]);
  model.dispose();
});
