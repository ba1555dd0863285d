/** Weights <-> model: lossless round trip, clear layout errors, architecture fingerprints. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../src/data/rng.ts';
import { buildModel, getWeights, type Model, setWeights } from '../../src/model/model.ts';
import { DEFAULT_CNN, DEFAULT_MLP, type ModelSpec } from '../../src/model/spec.ts';
import { cloneWeights, mapLayers, type Weights } from '../../src/model/weights.ts';
import { initBackend } from '../../src/train/backend.ts';
import { taskFingerprint } from '../../src/wire/schema.ts';

const FP32 = { kind: 'dense', values: 'fp32' } as const;

const INPUT: readonly number[] = [8, 8, 1];
const CLASSES = 10;
const SPECS: readonly ModelSpec[] = [DEFAULT_MLP, { kind: 'cnn', stages: [[4], [8, 8]], dense: 16, reparam: 'repopt' }];

before(async () => {
  await initBackend('wasm');
});

function randomBatch(seed: number, n: number): tf.Tensor {
  const rng = createRng(seed);
  return tf.tensor(
    Float32Array.from({ length: n * 64 }, () => rng.next()),
    [n, ...INPUT],
  );
}

/** Weights with every value random, so the (zero-initialised) head is exercised too. */
function randomWeights(model: Model, seed: number): Weights {
  const rng = createRng(seed);
  return mapLayers(getWeights(model), (l) => Float32Array.from(l.values, () => rng.normal() * 0.1));
}

for (const spec of SPECS) {
  test(`${spec.kind}: getWeights -> setWeights into a fresh model is lossless`, () => {
    const source = buildModel(spec, INPUT, CLASSES, 1);
    const target = buildModel(spec, INPUT, CLASSES, 2);
    try {
      setWeights(source, randomWeights(source, 3));
      const w = cloneWeights(getWeights(source));
      // Different seeds give different models before the copy (the test can fail).
      assert.notDeepEqual(getWeights(target)[0]?.values, w[0]?.values);
      setWeights(target, w);
      const back = getWeights(target);
      assert.deepEqual(
        back.map((l) => [l.name, l.shape]),
        w.map((l) => [l.name, l.shape]),
      );
      back.forEach((l, i) => {
        assert.deepEqual(l.values, w[i]?.values, `layer ${l.name}`);
      });
      const [a, b] = tf.tidy(() => {
        const x = randomBatch(4, 16);
        return [source.logits(x).dataSync(), target.logits(x).dataSync()];
      });
      assert.deepEqual(b, a, 'logits differ');
      assert.ok(
        a.some((v) => v !== 0),
        'logits are all zero',
      );
    } finally {
      source.dispose();
      target.dispose();
    }
  });
}

test('getWeights returns a copy: later training does not change it', () => {
  const model = buildModel(DEFAULT_MLP, INPUT, CLASSES, 1);
  try {
    const before = cloneWeights(getWeights(model));
    const held = getWeights(model);
    setWeights(model, randomWeights(model, 9));
    held.forEach((l, i) => {
      assert.deepEqual(l.values, before[i]?.values, `layer ${l.name}`);
    });
  } finally {
    model.dispose();
  }
});

test('setWeights with a wrong layout throws a clear error and leaves the model unchanged', () => {
  const model = buildModel(DEFAULT_MLP, INPUT, CLASSES, 1);
  try {
    const good = getWeights(model);
    const before = cloneWeights(good);
    const fit = /weights do not fit the model: expected dense0\/kernel\[64,256\]/;
    // A missing layer, a wrong shape, a wrong name, another architecture.
    assert.throws(() => setWeights(model, good.slice(1)), fit);
    assert.throws(
      () =>
        setWeights(
          model,
          good.map((l, i) => (i === 0 ? { ...l, shape: [32, 512] } : l)),
        ),
      /got dense0\/kernel\[32,512\]/,
    );
    assert.throws(
      () =>
        setWeights(
          model,
          good.map((l, i) => (i === 1 ? { ...l, name: 'other' } : l)),
        ),
      fit,
    );
    const cnn = buildModel(DEFAULT_CNN, INPUT, CLASSES, 1);
    try {
      assert.throws(() => setWeights(model, getWeights(cnn)), /got conv0_0\/kernel\[3,3,1,16\]/);
    } finally {
      cnn.dispose();
    }
    getWeights(model).forEach((l, i) => {
      assert.deepEqual(l.values, before[i]?.values);
    });
  } finally {
    model.dispose();
  }
});

test('task fingerprint, architecture part: equal for one spec, different across specs', () => {
  const fp = (spec: ModelSpec, seed: number, input = INPUT, classes = CLASSES) => {
    const m = buildModel(spec, input, classes, seed);
    try {
      // Same task id, model seed and codec: only the layout can differ.
      return taskFingerprint({ taskId: 't', layout: getWeights(m), modelSeed: 0, codec: FP32 });
    } finally {
      m.dispose();
    }
  };
  const mlp = fp(DEFAULT_MLP, 1);
  assert.match(mlp, /^[0-9a-f]{8}$/);
  assert.equal(fp(DEFAULT_MLP, 2), mlp);
  const cnn = fp(DEFAULT_CNN, 1);
  assert.equal(fp(DEFAULT_CNN, 7), cnn);
  // RepOpt changes training, not the layout: plain and RepOpt CNNs exchange weights.
  assert.equal(fp({ ...DEFAULT_CNN, reparam: 'none' }, 1), cnn);
  const others = [
    mlp,
    cnn,
    fp({ kind: 'mlp', hidden: [256, 64] }, 1),
    fp({ kind: 'mlp', hidden: [256] }, 1),
    fp(DEFAULT_MLP, 1, INPUT, 5),
    fp(DEFAULT_MLP, 1, [28, 28, 1]),
    fp({ ...DEFAULT_CNN, dense: 32 }, 1),
    fp({ ...DEFAULT_CNN, stages: [[16], [32]] }, 1),
  ];
  assert.equal(new Set(others).size, others.length, `collisions in ${others}`);
});
