import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertDataset, classCounts, type Dataset, featureSize } from '../../src/data/dataset.ts';
import { makeSynthetic } from '../../src/data/synthetic.ts';

test('synthetic data has the requested shape, balanced classes and values in [0, 1]', () => {
  const { train, test: held } = makeSynthetic({
    numClasses: 4,
    trainSamples: 101,
    testSamples: 40,
    featureShape: [3, 5],
  });
  assertDataset(train, 'train');
  assertDataset(held, 'test');
  assert.deepEqual(train.featureShape, [3, 5]);
  assert.equal(train.y.length, 101);
  assert.equal(held.y.length, 40);
  const counts = classCounts(train);
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `counts ${counts}`);
  assert.ok(train.x.every((v) => v >= 0 && v <= 1));
});

test('synthetic data is deterministic per seed, and the test size does not change train', () => {
  const a = makeSynthetic({ seed: 7 });
  const b = makeSynthetic({ seed: 7, testSamples: 50 });
  const c = makeSynthetic({ seed: 8 });
  assert.deepEqual(a.train.x, b.train.x);
  assert.deepEqual(a.train.y, b.train.y);
  assert.notDeepEqual(a.train.x, c.train.x);
});

test('synthetic data rejects bad options', () => {
  assert.throws(() => makeSynthetic({ numClasses: 1 }), /numClasses/);
  assert.throws(() => makeSynthetic({ featureShape: [0, 4] }), /featureShape/);
  assert.throws(() => makeSynthetic({ noise: -1 }), /noise/);
  assert.throws(() => makeSynthetic({ trainSamples: 2.5 }), /trainSamples/);
});

/** Plain softmax regression by SGD: if a linear model learns it, an MLP does too. */
function trainSoftmax(d: Dataset, steps: number, lr: number): (x: Float32Array, i: number) => number {
  const f = featureSize(d);
  const k = d.numClasses;
  const w = new Float64Array(k * (f + 1));
  const logits = new Float64Array(k);
  const score = (x: Float32Array, i: number): void => {
    for (let c = 0; c < k; c++) {
      let s = w[c * (f + 1) + f];
      for (let j = 0; j < f; j++) s += w[c * (f + 1) + j] * x[i * f + j];
      logits[c] = s;
    }
  };
  for (let step = 0; step < steps; step++) {
    const i = step % d.y.length;
    score(d.x, i);
    const max = Math.max(...logits);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(logits[c] - max);
    for (let c = 0; c < k; c++) {
      const g = Math.exp(logits[c] - max) / sum - (c === d.y[i] ? 1 : 0);
      for (let j = 0; j < f; j++) w[c * (f + 1) + j] -= lr * g * d.x[i * f + j];
      w[c * (f + 1) + f] -= lr * g;
    }
  }
  return (x, i) => {
    score(x, i);
    return logits.indexOf(Math.max(...logits));
  };
}

test('synthetic data is learnable to high accuracy in a few hundred steps', () => {
  const { train, test: held } = makeSynthetic({ seed: 3 });
  const predict = trainSoftmax(train, 500, 0.1);
  let correct = 0;
  for (let i = 0; i < held.y.length; i++) if (predict(held.x, i) === held.y[i]) correct++;
  const accuracy = correct / held.y.length;
  assert.ok(accuracy > 0.9, `accuracy ${accuracy}`);
});
