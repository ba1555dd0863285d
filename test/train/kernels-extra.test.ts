/**
 * Our overrides of stock wasm kernels (Conv2DBackpropInput as a forward conv,
 * BatchMatMul with transpose flags as transpose + plain multiply) must give the cpu
 * backend's results, both on the paths they cover and where they fall back to the stock kernel.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '../../src/data/rng.ts';
import { initBackend } from '../../src/train/backend.ts';
import { planBackpropInput } from '../../src/train/kernels/conv2d-backprop-input.ts';
import { assertWasmMatchesCpu, type Pad, size, uniform } from './wasm-vs-cpu.ts';

type Shape4 = [number, number, number, number];

interface BackpropCase {
  x: Shape4;
  filter: Shape4;
  stride: number | [number, number];
  pad: Pad;
}

function info(c: BackpropCase): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, c.pad);
}

/** Runs the Conv2DBackpropInput kernel directly with a random dy and filter. */
function backpropInput(c: BackpropCase, seed: number): () => tf.Tensor {
  const rng = createRng(seed);
  const outShape = info(c).outShape;
  const dyValues = uniform(rng, size(outShape));
  const wValues = uniform(rng, size(c.filter));
  return () =>
    tf
      .engine()
      .runKernel(
        'Conv2DBackpropInput',
        { dy: tf.tensor(dyValues, outShape), filter: tf.tensor4d(wValues, c.filter) },
        { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x },
      ) as tf.Tensor;
}

function label(c: BackpropCase): string {
  return `x[${c.x}] f[${c.filter}] s${c.stride} ${JSON.stringify(c.pad)}`;
}

function randomCases(rng: Rng, count: number): BackpropCase[] {
  const cases: BackpropCase[] = [];
  for (let i = 0; i < count; i++) {
    const fh = 1 + rng.int(5);
    const fw = 1 + rng.int(4);
    const x: Shape4 = [1 + rng.int(3), fh + rng.int(9), fw + rng.int(9), [1, 3, 8, 16][rng.int(4)]];
    const stride: [number, number] = [1 + rng.int(3), 1 + rng.int(2)];
    cases.push({ x, filter: [fh, fw, x[3], [1, 5, 12][rng.int(3)]], stride, pad: rng.int(2) === 0 ? 'same' : 'valid' });
  }
  return cases;
}

const FIXED_CASES: BackpropCase[] = [
  // The CNN's own shapes (stride 1 'same', 3x3).
  { x: [4, 14, 14, 16], filter: [3, 3, 16, 32], stride: 1, pad: 'same' },
  { x: [2, 28, 28, 1], filter: [3, 3, 1, 16], stride: 1, pad: 'same' },
  { x: [2, 9, 8, 3], filter: [3, 3, 3, 4], stride: 2, pad: 'same' },
  { x: [2, 10, 10, 3], filter: [4, 4, 3, 4], stride: 2, pad: 'same' },
  { x: [3, 9, 9, 4], filter: [5, 5, 4, 3], stride: 2, pad: 'valid' },
  { x: [2, 8, 7, 5], filter: [2, 2, 5, 6], stride: 2, pad: 'valid' },
  { x: [2, 6, 7, 16], filter: [1, 1, 16, 5], stride: 2, pad: 'same' },
  {
    x: [2, 6, 7, 3],
    filter: [3, 3, 3, 4],
    stride: 1,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
];

test('Conv2DBackpropInput on wasm matches cpu (fixed and random shapes, strides 1-3, same/valid/explicit)', async () => {
  const cases = [...FIXED_CASES, ...randomCases(createRng(31), 16)];
  for (const [i, c] of cases.entries()) {
    await assertWasmMatchesCpu(label(c), backpropInput(c, 200 + i));
  }
});

test('Conv2DBackpropInput covers stride 1/2 same and valid, and falls back where the pad exceeds the filter', async () => {
  for (const c of FIXED_CASES) assert.notEqual(planBackpropInput(info(c)), null, label(c));
  const wide: BackpropCase = {
    x: [2, 6, 6, 3],
    filter: [2, 2, 3, 4],
    stride: 1,
    pad: [
      [0, 0],
      [3, 0],
      [0, 2],
      [0, 0],
    ],
  };
  assert.equal(planBackpropInput(info(wide)), null);
  await assertWasmMatchesCpu(`fallback ${label(wide)}`, backpropInput(wide, 9));
});

test('conv2d input gradient via tf.grads on wasm matches cpu (stride 2, same)', async () => {
  const rng = createRng(41);
  const xShape: Shape4 = [2, 11, 10, 3];
  const wShape: Shape4 = [3, 3, 3, 6];
  const xValues = uniform(rng, size(xShape));
  const wValues = uniform(rng, size(wShape));
  await assertWasmMatchesCpu('grad', () => {
    const w = tf.tensor4d(wValues, wShape);
    const grad = tf.grad((x: tf.Tensor) =>
      tf
        .conv2d(x as tf.Tensor4D, w, 2, 'same')
        .square()
        .sum(),
    );
    return grad(tf.tensor4d(xValues, xShape));
  });
});

interface MatMulCase {
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

const MATMUL_CASES: MatMulCase[] = [
  // Dense-layer backward shapes: dW = x^T dy, dx = dy W^T.
  { a: [64, 784], b: [64, 256], transposeA: true, transposeB: false },
  { a: [64, 256], b: [784, 256], transposeA: false, transposeB: true },
  { a: [7, 5], b: [3, 7], transposeA: true, transposeB: true },
  { a: [3, 4, 5], b: [3, 6, 5], transposeA: false, transposeB: true },
  { a: [2, 5, 4], b: [2, 5, 3], transposeA: true, transposeB: false },
  // Broadcast batch.
  { a: [1, 6, 4], b: [3, 5, 6], transposeA: true, transposeB: true },
  { a: [9, 8], b: [8, 7], transposeA: false, transposeB: false },
  // Our SIMD GEMM (batch 1, >= 4 rows, >= 8 columns): whole 4 x 8 tiles, edge rows and
  // columns, k = 1, and both loop orders (B above and below 64 K floats).
  { a: [64, 784], b: [784, 256], transposeA: false, transposeB: false },
  { a: [13, 37], b: [37, 21], transposeA: false, transposeB: false },
  { a: [37, 13], b: [37, 21], transposeA: true, transposeB: false },
  { a: [13, 37], b: [21, 37], transposeA: false, transposeB: true },
  { a: [37, 13], b: [21, 37], transposeA: true, transposeB: true },
  { a: [4, 1], b: [1, 8], transposeA: false, transposeB: false },
  { a: [1, 6, 300], b: [1, 300, 260], transposeA: false, transposeB: false },
  { a: [300, 8], b: [300, 9], transposeA: true, transposeB: false },
  // Columns outermost in blocks of 64 rows: 150 rows (2 full blocks, one of 20, 2 edge rows).
  { a: [150, 300], b: [300, 260], transposeA: false, transposeB: false },
  { a: [300, 150], b: [300, 260], transposeA: true, transposeB: false },
];

test('BatchMatMul with transpose flags on wasm matches cpu', async () => {
  const rng = createRng(51);
  for (const c of MATMUL_CASES) {
    const aValues = uniform(rng, size(c.a));
    const bValues = uniform(rng, size(c.b));
    await assertWasmMatchesCpu(`matMul a[${c.a}] b[${c.b}] tA=${c.transposeA} tB=${c.transposeB}`, () =>
      tf.matMul(tf.tensor(aValues, c.a), tf.tensor(bValues, c.b), c.transposeA, c.transposeB),
    );
  }
});

test('dense layer gradients on wasm match cpu (uses the transposed BatchMatMul)', async () => {
  const rng = createRng(61);
  const xValues = uniform(rng, 16 * 20);
  const wValues = uniform(rng, 20 * 12);
  for (const wrt of [0, 1]) {
    await assertWasmMatchesCpu(`dense grad ${wrt}`, () => {
      const grads = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.matMul(x, w).relu().square().sum());
      return grads([tf.tensor2d(xValues, [16, 20]), tf.tensor2d(wValues, [20, 12])])[wrt];
    });
  }
});

test('Sum over all axes but the last (bias gradients, our pass) and other Sums on wasm match cpu', async () => {
  const rng = createRng(71);
  const cases: { shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
    { shape: [3, 5, 7, 12], axis: [0, 1, 2], keepDims: false },
    { shape: [3, 5, 7, 12], axis: [2, 0, -3], keepDims: true },
    { shape: [13, 9], axis: 0, keepDims: false },
    { shape: [13, 9], axis: -2, keepDims: true },
    // Not ours: the stock kernel.
    { shape: [3, 5, 7, 12], axis: [1, 2], keepDims: false },
    { shape: [13, 9], axis: 1, keepDims: false },
    { shape: [13], axis: 0, keepDims: false },
  ];
  for (const c of cases) {
    const values = uniform(rng, size(c.shape));
    await assertWasmMatchesCpu(`sum [${c.shape}] axis ${JSON.stringify(c.axis)} keepDims ${c.keepDims}`, () => {
      const out = tf.sum(tf.tensor(values, c.shape), c.axis, c.keepDims);
      // The shape is part of the contract, not only the values.
      return out.reshape([-1]).concat(tf.tensor1d(out.shape.length === 0 ? [0] : out.shape));
    });
  }
  const xValues = uniform(rng, 4 * 6 * 6 * 8);
  const bValues = uniform(rng, 8);
  await assertWasmMatchesCpu('bias gradient of a broadcast add', () => {
    const loss = (x: tf.Tensor, b: tf.Tensor) => tf.add(x, b).square().sum();
    return tf.grads(loss)([tf.tensor4d(xValues, [4, 6, 6, 8]), tf.tensor1d(bValues)]);
  });
});

test('Identity on wasm shares its input (no copy, no new bytes); the clone outlives the original; gradients match cpu', async () => {
  await initBackend('wasm');
  const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
  const buffers = tf.engine().backend.numDataIds();
  const y = tf.clone(x);
  assert.equal(tf.engine().backend.numDataIds(), buffers, 'a clone allocates no buffer');
  assert.equal(y.dataId, x.dataId);
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4, 5, 6]);
  y.dispose();
  // The engine clones what a backward pass saves: gradients through saved tensors as on cpu.
  await assertWasmMatchesCpu('gradients through clones', () => {
    const a = tf.tensor2d([0.5, -1, 2, 3, -0.25, 1.5], [2, 3]);
    const w = tf.tensor2d([1, -2, 0.5, 0.25, -1, 2], [3, 2]);
    const [ga, gw] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.relu(tf.matMul(p, q)).square().sum())([a, w]);
    return tf.concat([ga.flatten(), gw.flatten()]);
  });
});
