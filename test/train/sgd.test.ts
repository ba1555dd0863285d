/**
 * The optimizer's fused update on wasm (src/train/kernels/sgd-step.ts, a SIMD pass plus a
 * JS tail) must give the same weights and momentum as the tfjs-ops rule on the cpu backend,
 * over several steps: sizes that are and are not multiples of 4, with RepOpt multipliers,
 * weight decay with and without them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../src/data/rng.ts';
import { SGD_STEP } from '../../src/train/kernels/sgd-step.ts';
import { Sgd, type SgdOptions } from '../../src/train/sgd.ts';
import { assertClose, onBackend, size, uniform } from './wasm-vs-cpu.ts';

const SHAPES = [[7, 5], [16], [3, 3, 2, 4], [1]];
const STEPS = 4;

/** Weights after STEPS updates from seeded values and gradients, on the active backend. */
function trainSteps(options: SgdOptions, withMultipliers: boolean): tf.Tensor[] {
  const rng = createRng(7);
  const variables = SHAPES.map((shape, i) => ({
    name: `v${i}`,
    shape,
    variable: tf.variable(tf.tensor(uniform(rng, size(shape)), shape)),
    trainable: true,
  }));
  const multipliers = new Map<string, tf.Tensor>();
  if (withMultipliers) {
    for (const v of variables.slice(0, 3)) multipliers.set(v.name, tf.tensor(uniform(rng, size(v.shape), 2), v.shape));
  }
  const sgd = new Sgd(options, variables, multipliers);
  for (let step = 0; step < STEPS; step++) {
    const grads = new Map(variables.map((v) => [v.variable, tf.tensor(uniform(rng, size(v.shape)), v.shape)] as const));
    sgd.apply(grads);
    tf.dispose([...grads.values()]);
  }
  const out = variables.map((v) => v.variable.clone());
  sgd.dispose();
  for (const v of variables) v.variable.dispose();
  tf.dispose([...multipliers.values()]);
  return out;
}

for (const withMultipliers of [false, true]) {
  for (const weightDecay of [0, 0.01]) {
    test(`fused SGD on wasm matches the tfjs-ops rule on cpu (multipliers ${withMultipliers}, weight decay ${weightDecay})`, async () => {
      const options: SgdOptions = { learningRate: 0.05, momentum: 0.9, weightDecay };
      const wasm = await onBackend('wasm', () => {
        assert.ok(tf.getKernel(SGD_STEP, 'wasm'), 'the fused kernel is registered on wasm');
        return trainSteps(options, withMultipliers);
      });
      const cpu = await onBackend('cpu', () => {
        assert.equal(tf.getKernel(SGD_STEP, 'cpu'), undefined, 'cpu runs the tfjs-ops rule');
        return trainSteps(options, withMultipliers);
      });
      for (const [i, w] of wasm.entries()) assertClose(w, cpu[i], `variable ${i}`, 1e-5);
      // The update did move the weights (a no-op kernel would pass the comparison above only if both were no-ops).
      const start = uniform(createRng(7), size(SHAPES[0]));
      assert.ok(Math.abs(wasm[0]?.[0] - start[0]) > 1e-4);
    });
  }
}

test('without momentum the tfjs-ops rule runs on wasm too and updates w <- w - lr * g', async () => {
  const [w] = await onBackend('wasm', () => {
    const variable = tf.variable(tf.tensor([1, 2, 3]));
    const sgd = new Sgd(
      { learningRate: 0.5, momentum: 0, weightDecay: 0 },
      [{ name: 'w', shape: [3], variable, trainable: true }],
      new Map(),
    );
    sgd.apply(new Map([[variable, tf.tensor([2, 2, 2])]]));
    return variable;
  });
  assert.deepEqual(Array.from(w), [0, 1, 2]);
});
