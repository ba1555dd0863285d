/**
 * Bring-your-own tfjs model (src/model/tfjs-model.ts): a functional tfjs model with a skip
 * connection and BatchNorm federated by two peers through createPeer on the in-process bus;
 * the merged model exported and loaded back with tf.loadLayersModel. Plus the topology
 * checks: unsupported layers are refused by name, the fingerprint covers the topology, and
 * FedBN keeps the moving statistics out of the exchange.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { makeSynthetic } from '../../src/data/synthetic.ts';
import { exportModelFiles, filesHandler } from '../../src/model/export.ts';
import { buildModel, getWeights } from '../../src/model/model.ts';
import { parameterCountOf, parseModelSpec } from '../../src/model/spec.ts';
import { prepareModel } from '../../src/model/tfjs-model.ts';
import { Bus } from '../../src/net/inproc-bus.ts';
import { createPeer, taskModelLayout } from '../../src/peer/create-peer.ts';
import { parseTaskSpec, safeParseTaskSpec, taskWireSchema } from '../../src/peer/task.ts';
import { initBackend } from '../../src/train/backend.ts';
import { Trainer } from '../../src/train/trainer.ts';

const FEATURES = 6;
const CLASSES = 3;
const ROUNDS = 3;

before(async () => {
  await initBackend('wasm');
});

/** The topology `build` makes (symbolic tensors only; the built model is disposed after). */
function symbolic(build: () => tf.LayersModel): Record<string, unknown> {
  const model = build();
  const json = model.toJSON(null, false) as Record<string, unknown>;
  model.dispose();
  return json;
}

/** A functional model: dense -> BN -> (dense + skip) -> dropout -> softmax head. */
function topology(units = 12, activation = 'relu'): Record<string, unknown> {
  return symbolic(() => {
    const input = tf.input({ shape: [FEATURES], name: 'x' });
    const a = tf.layers.dense({ units, activation: 'relu', name: 'd1' }).apply(input) as tf.SymbolicTensor;
    const b = tf.layers.batchNormalization({ name: 'bn' }).apply(a) as tf.SymbolicTensor;
    const c = tf.layers.dense({ units, activation: activation as 'relu', name: 'd2' }).apply(b) as tf.SymbolicTensor;
    const s = tf.layers.add({ name: 'skip' }).apply([b, c]) as tf.SymbolicTensor;
    const d = tf.layers.dropout({ rate: 0.1, name: 'drop' }).apply(s) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: CLASSES, activation: 'softmax', name: 'out' }).apply(d) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: out, name: 'custom' });
  });
}

function task(model: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return parseTaskSpec({
    taskId: 'custom-tfjs',
    model: { kind: 'tfjs', topology: model, ...extra },
    modelSeed: 5,
    codec: 'fp32',
    strategy: 'mean',
    batchSize: 16,
    learningRate: 0.1,
    localSteps: 4,
    dataset: 'custom',
    inputShape: [FEATURES],
    classes: CLASSES,
  });
}

function data(seed: number) {
  const { train, test: validation } = makeSynthetic({
    numClasses: CLASSES,
    trainSamples: 60,
    testSamples: 30,
    featureShape: [FEATURES],
    seed,
  });
  return { train, validation, familiarClasses: [0, 1, 2] };
}

test('two peers federate a custom functional tfjs model; the merged model exports and loads with tf.loadLayersModel', async () => {
  const spec = task(topology());
  const bus = new Bus();
  const peers = await Promise.all(
    ['a', 'b'].map((id, i) =>
      createPeer(spec, { gossip: bus.join(id), data: data(i + 1), seed: i + 1, minFreshUpdates: 1, backend: false }),
    ),
  );
  const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
  const candidates: number[] = [];
  a.addEventListener('round:end', (e) => candidates.push(e.detail.candidates));
  try {
    // The model's own layer names; BN moving statistics exchanged by default.
    const exchanged = a.trainer.trainableLayers();
    assert.ok(exchanged.has('bn/moving_mean') && exchanged.has('out/kernel') && exchanged.has('out/bias'));
    assert.deepEqual(a.trainer.model.outputLayer, { kernel: 'out/kernel', bias: 'out/bias' });
    for (const p of peers) await p.start();
    await Promise.all(peers.map((p) => p.run(ROUNDS)));
    assert.ok(
      candidates.some((n) => n > 0),
      `peer a merged nothing in ${ROUNDS} rounds`,
    );
    // The merge moved the moving statistics too: they left their initial values.
    const moving = getWeights(a.trainer.model).find((l) => l.name === 'bn/moving_variance');
    assert.ok(moving?.values.some((v) => Math.abs(v - 1) > 1e-4));

    const files = await exportModelFiles(a.trainer.model, { metadata: { round: ROUNDS } });
    const names = files.modelJson.weightsManifest[0]?.weights.map((w) => w.name) ?? [];
    assert.ok(names.includes('bn/moving_mean') && names.includes('skip') === false);
    const loaded = await tf.loadLayersModel(filesHandler(files));
    try {
      const { validation } = data(1);
      const x = tf.tensor(validation.x, [validation.y.length, FEATURES]);
      const want = tf.tidy(() => tf.softmax(a.trainer.model.logits(x)));
      const got = loaded.predict(x) as tf.Tensor;
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(want, got))).dataSync()[0]);
      assert.ok(diff < 1e-5, `loaded model differs by ${diff}`);
      tf.dispose([x, want, got]);
    } finally {
      loaded.dispose();
    }
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
    for (const p of [a, b]) {
      p.trainer.dispose();
      p.trainer.model.dispose();
    }
  }
});

test('tfjs spec: same seed, same initial weights; the spec counts what tfjs builds', async () => {
  const spec = parseModelSpec({ kind: 'tfjs', topology: topology() });
  await prepareModel(spec);
  const m1 = buildModel(spec, [FEATURES], CLASSES, 9);
  const m2 = buildModel(spec, [FEATURES], CLASSES, 9);
  try {
    assert.deepEqual(getWeights(m1), getWeights(m2));
    assert.equal(
      m1.variables.reduce((n, v) => n + v.variable.size, 0),
      parameterCountOf(spec, [FEATURES], CLASSES),
    );
    // Bristle's head starts at zero.
    assert.ok(
      getWeights(m1)
        .find((l) => l.name === 'out/kernel')
        ?.values.every((v) => v === 0),
    );
  } finally {
    m1.dispose();
    m2.dispose();
  }
});

test('tfjs spec: a layer without a merge rule is refused with its name', () => {
  const json = symbolic(() => {
    const input = tf.input({ shape: [5, FEATURES], name: 'seq' });
    const r = tf.layers.lstm({ units: 4, name: 'memory' }).apply(input) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: CLASSES, name: 'out' }).apply(r) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: out });
  });
  const parsed = safeParseTaskSpec({
    taskId: 'bad',
    model: { kind: 'tfjs', topology: json },
    dataset: 'custom',
    inputShape: [5, FEATURES],
    classes: CLASSES,
  });
  assert.equal(parsed.ok, false);
  const text = parsed.ok ? '' : parsed.issues.map((i) => `${i.key}: ${i.problem}`).join('; ');
  assert.match(text, /layer "memory" \(LSTM\) has no merge rule/);
});

test('tfjs spec: the output layer must fit the task, and a named one must be a Dense', () => {
  const wrongClasses = safeParseTaskSpec({
    taskId: 't',
    model: { kind: 'tfjs', topology: topology() },
    dataset: 'custom',
    inputShape: [FEATURES],
    classes: 5,
  });
  assert.equal(wrongClasses.ok, false);
  assert.match(JSON.stringify(wrongClasses), /output layer \\"out\\" has 3 units/);
  assert.throws(
    () => parseModelSpec({ kind: 'tfjs', topology: topology(), outputLayer: 'bn' }),
    /must be a Dense layer/,
  );
  assert.throws(() => parseModelSpec({ kind: 'tfjs', topology: topology(), outputLayer: 'd1' }), /output layer "d1"/);
});

test('tfjs task: the fingerprint covers the topology beyond layer names and shapes', async () => {
  const relu = task(topology(12, 'relu'));
  const tanh = task(topology(12, 'tanh'));
  await prepareModel(relu.model);
  await prepareModel(tanh.model);
  const layoutRelu = taskModelLayout(relu);
  const layoutTanh = taskModelLayout(tanh);
  assert.deepEqual(
    layoutRelu.map((l) => [l.name, l.shape]),
    layoutTanh.map((l) => [l.name, l.shape]),
  );
  assert.notEqual(taskWireSchema(relu, layoutRelu).fingerprint, taskWireSchema(tanh, layoutTanh).fingerprint);
  assert.equal(taskWireSchema(relu, layoutRelu).fingerprint, taskWireSchema(task(topology()), layoutRelu).fingerprint);
});

test('tfjs spec: batchNormStats "local" (FedBN) trains the statistics but keeps them out of the exchange', async () => {
  const spec = parseModelSpec({ kind: 'tfjs', topology: topology(), batchNormStats: 'local' });
  await prepareModel(spec);
  const model = buildModel(spec, [FEATURES], CLASSES, 1);
  const trainer = new Trainer(model, { batchSize: 16 });
  try {
    const exchanged = trainer.trainableLayers();
    assert.ok(exchanged.has('bn/gamma') && exchanged.has('bn/beta'));
    assert.ok(!exchanged.has('bn/moving_mean') && !exchanged.has('bn/moving_variance'));
    // Training elsewhere (the worker pool) still carries the local statistics back and forth.
    assert.ok(trainer.trainedLayers().has('bn/moving_mean') && trainer.trainedLayers().has('bn/moving_variance'));
    trainer.train(data(1).train, { steps: 3 });
    const mean = getWeights(model).find((l) => l.name === 'bn/moving_mean');
    assert.ok(
      mean?.values.some((v) => v !== 0),
      'training moved the local statistics',
    );
  } finally {
    trainer.dispose();
    model.dispose();
  }
});
