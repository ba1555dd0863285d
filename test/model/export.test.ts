/**
 * Export to tfjs LayersModel (src/model/export.ts): built-in models load back with
 * tf.loadLayersModel and predict what the meshfl model predicts; a RepVGG CNN trained a few
 * steps (BatchNorm statistics moved away from their initial values) exports fused, one 3x3
 * conv per block, and predicts the branched model's logits within 1e-4.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { makeSynthetic } from '../../src/data/synthetic.ts';
import { exportModelFiles, filesHandler, toLayersModel, WEIGHTS_FILE } from '../../src/model/export.ts';
import { buildModel } from '../../src/model/model.ts';
import { type ModelSpec, parameterCountOf, parseModelSpec } from '../../src/model/spec.ts';
import { initBackend } from '../../src/train/backend.ts';
import { Trainer } from '../../src/train/trainer.ts';

before(async () => {
  await initBackend('wasm');
});

const SHAPE = [8, 8, 3];
const CLASSES = 4;
const TOLERANCE = 1e-4;

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function trained(spec: ModelSpec, steps: number) {
  const data = makeSynthetic({ numClasses: CLASSES, trainSamples: 64, testSamples: 16, featureShape: SHAPE, seed: 3 });
  const model = buildModel(spec, SHAPE, CLASSES, 7);
  const trainer = new Trainer(model, { batchSize: 16, seed: 1, optimizer: { learningRate: 0.05 } });
  trainer.train(data.train, { steps });
  return { model, trainer, test: data.test };
}

test('RepVGG: parameter count from the spec equals the built model (branches and BatchNorm state)', () => {
  const spec = parseModelSpec({ kind: 'cnn', stages: [[4], [6, 6]], dense: 8, reparam: 'repvgg' });
  const model = buildModel(spec, SHAPE, CLASSES, 1);
  try {
    assert.equal(
      model.variables.reduce((n, v) => n + v.variable.size, 0),
      parameterCountOf(spec, SHAPE, CLASSES),
    );
    assert.ok(model.variables.some((v) => v.name === 'conv1_1/bn_identity/moving_variance' && !v.trainable));
    assert.ok(!model.variables.some((v) => v.name === 'conv0_0/bn_identity/gamma'), 'no identity branch when 3 -> 4');
  } finally {
    model.dispose();
  }
});

test('RepVGG: the fused export equals the branched model in inference after training moved the BN statistics', async () => {
  const spec = parseModelSpec({ kind: 'cnn', stages: [[4], [6, 6]], dense: 8, reparam: 'repvgg' });
  const { model, trainer, test: data } = trained(spec, 6);
  try {
    // The statistics must have left their initial values, or the test proves little.
    const mean = model.variables.find((v) => v.name === 'conv1_1/bn3/moving_mean')?.variable as tf.Variable;
    const variance = model.variables.find((v) => v.name === 'conv1_1/bn_identity/moving_variance')
      ?.variable as tf.Variable;
    assert.ok(tf.tidy(() => tf.max(tf.abs(mean)).dataSync()[0]) > 1e-3);
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(variance, 1))).dataSync()[0]) > 1e-3);

    const files = await exportModelFiles(model, { activation: 'linear' });
    const convs = files.modelJson.weightsManifest[0]?.weights.filter((w) => /^conv\d_\d\/kernel$/.test(w.name)) ?? [];
    assert.deepEqual(
      convs.map((w) => w.shape),
      [
        [3, 3, 3, 4],
        [3, 3, 4, 6],
        [3, 3, 6, 6],
      ],
      'one 3x3 conv per block',
    );
    assert.equal(files.modelJson.weightsManifest[0]?.paths[0], WEIGHTS_FILE);
    const loaded = await tf.loadLayersModel(filesHandler(files));
    try {
      const x = tf.tensor(data.x, [data.y.length, ...SHAPE]);
      const branched = model.logits(x);
      const fused = loaded.predict(x) as tf.Tensor;
      const diff = maxAbsDiff(branched, fused);
      assert.ok(diff < TOLERANCE, `fused export differs from the branched model by ${diff}`);
      // The branched model's training-mode output differs (batch statistics): inference mode matters.
      assert.ok(
        maxAbsDiff(
          branched,
          tf.tidy(() => model.logits(x, true)),
        ) > TOLERANCE,
      );
      tf.dispose([x, branched, fused]);
    } finally {
      loaded.dispose();
    }
  } finally {
    trainer.dispose();
    model.dispose();
  }
});

for (const spec of ['mlp', 'cnn', 'cnn-plain'] as const) {
  test(`export: ${spec} loads with tf.loadLayersModel and predicts the model's softmax`, async () => {
    const parsed = spec === 'mlp' ? parseModelSpec({ kind: 'mlp', hidden: [16] }) : parseModelSpec(spec);
    const { model, trainer, test: data } = trained(parsed, 3);
    try {
      const files = await exportModelFiles(model, { metadata: { round: 3 } });
      assert.deepEqual(files.modelJson.userDefinedMetadata, { round: 3 });
      const loaded = await tf.loadLayersModel(filesHandler(files));
      const x = tf.tensor(data.x, [data.y.length, ...SHAPE]);
      const want = tf.tidy(() => tf.softmax(model.logits(x)));
      const got = loaded.predict(x) as tf.Tensor;
      assert.ok(maxAbsDiff(want, got) < TOLERANCE);
      tf.dispose([x, want, got]);
      loaded.dispose();
    } finally {
      trainer.dispose();
      model.dispose();
    }
  });
}

test('toLayersModel leaves the meshfl model usable (it copies, it does not take the variables)', () => {
  const model = buildModel(parseModelSpec('cnn-repvgg'), [12, 12, 1], CLASSES, 1);
  const lm = toLayersModel(model);
  lm.dispose();
  const y = tf.tidy(() => model.logits(tf.zeros([1, 12, 12, 1])).shape);
  assert.deepEqual(y, [1, CLASSES]);
  model.dispose();
});

test('a built, trained and disposed model leaves no tensor behind (RepVGG, RepOpt, MLP)', () => {
  const data = makeSynthetic({ numClasses: CLASSES, trainSamples: 32, testSamples: 8, featureShape: SHAPE, seed: 5 });
  for (const name of ['cnn-repvgg', 'cnn', 'mlp']) {
    const before = tf.memory().numTensors;
    const model = buildModel(parseModelSpec(name), SHAPE, CLASSES, 1);
    const trainer = new Trainer(model, { batchSize: 16 });
    trainer.train(data.train, { steps: 2 });
    trainer.evaluateWeights(trainer.getWeights(), data.test);
    trainer.dispose();
    model.dispose();
    assert.equal(tf.memory().numTensors, before, `${name} left tensors`);
  }
});
