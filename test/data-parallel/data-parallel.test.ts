/**
 * Data-parallel training (node/data-parallel): one model trained by worker replicas that sum
 * their gradients every step (syncEvery 1; local SGD, syncEvery k >= 2, is tested at the end). Against the Trainer on one thread with the same seed: the same
 * test accuracy and nearly the same weights (float rounding differs: a batch's gradient is
 * summed in two halves), where another batch order lands far away; the same numbers twice
 * with the same seed; uneven and empty slices; an abort stops every replica after the same
 * step; a replica's error reaches the caller and fails the group; bad thread counts are
 * refused; one thread starts no worker. One group of two replicas serves most tests (a
 * replica's backend start costs seconds on a loaded machine).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ParallelTraining,
  ParallelTrainingError,
  trainingThreads,
} from '../../node/data-parallel/parallel-training.ts';
import {
  checkSyncEvery,
  checkThreads,
  DEFAULT_THREADS,
  defaultSyncEvery,
  MAX_SYNC_EVERY,
  MAX_THREADS,
  replicasFor,
} from '../../node/data-parallel/threads.ts';
import { loadDataset } from '../../node/datasets.ts';
import { type Dataset, subset } from '../../src/data/dataset.ts';
import { makeSynthetic } from '../../src/data/synthetic.ts';
import { buildModel } from '../../src/model/model.ts';
import { DEFAULT_CNN, DEFAULT_MLP, type ModelSpec } from '../../src/model/spec.ts';
import { prepareModel } from '../../src/model/tfjs-model.ts';
import type { Weights } from '../../src/model/weights.ts';
import { initBackend } from '../../src/train/backend.ts';
import { Trainer, type TrainerOptions } from '../../src/train/trainer.ts';

const SPEC: ModelSpec = { kind: 'mlp', hidden: [64, 32] };
const OPTIONS: TrainerOptions = { batchSize: 32, seed: 7, optimizer: { learningRate: 0.05, momentum: 0.9 } };
const MODEL_SEED = 5;

const mnist = loadDataset('mnist');
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const train: Dataset = subset(mnist.train, range(3000));
const test1k: Dataset = subset(mnist.test, range(1000));
const inputShape = [784];

const made: Trainer[] = [];
function trainer(options: TrainerOptions = OPTIONS): Trainer {
  const t = new Trainer(buildModel(SPEC, inputShape, 10, MODEL_SEED), options);
  made.push(t);
  return t;
}

/** ||a - b|| / ||a|| over every layer. */
function relativeDistance(a: Weights, b: Weights): number {
  let diff = 0;
  let norm = 0;
  for (const [i, l] of a.entries()) {
    const m = b[i];
    assert.ok(m && m.name === l.name);
    for (let j = 0; j < l.values.length; j++) {
      const x = l.values[j];
      diff += (x - m.values[j]) ** 2;
      norm += x * x;
    }
  }
  return Math.sqrt(diff / norm);
}

const groups: ParallelTraining[] = [];
async function group(
  owner: Trainer,
  options: TrainerOptions = OPTIONS,
  replicas = 2,
  syncEvery = 1,
): Promise<ParallelTraining> {
  const g = await ParallelTraining.start({ replicas, backend: 'wasm', trainer: owner, options, syncEvery });
  groups.push(g);
  return g;
}

before(async () => {
  await initBackend('wasm');
});
after(async () => {
  await Promise.all(groups.map((g) => g.close()));
  for (const t of made) {
    t.dispose();
    t.model.dispose();
  }
});

test('2 threads train the model 1 thread trains: same accuracy, nearly the same weights; another batch order does not', async (t) => {
  const alone = trainer();
  const other = trainer({ ...OPTIONS, seed: 8 });
  const owner = trainer();
  const g = await group(owner);
  const EPOCHS = 2;
  const a = await alone.trainAsync(train, { epochs: EPOCHS });
  await other.trainAsync(train, { epochs: EPOCHS });
  const b = await g.trainAsync(train, { epochs: EPOCHS });
  assert.equal(b.steps, a.steps);
  assert.equal(b.samples, a.samples);
  const accAlone = alone.evaluate(test1k).overallAccuracy;
  const accOther = other.evaluate(test1k).overallAccuracy;
  const accParallel = owner.evaluate(test1k).overallAccuracy;
  const near = relativeDistance(alone.getWeights(), owner.getWeights());
  const far = relativeDistance(alone.getWeights(), other.getWeights());
  const report = `accuracy 1 thread ${accAlone}, 2 threads ${accParallel}, other seed ${accOther}; weight distance ${near} (other seed ${far}); loss ${a.loss} / ${b.loss}`;
  t.diagnostic(report);
  assert.ok(accAlone > 0.8, `it learns: ${report}`);
  // Rounding differences grow over 188 steps but stay orders of magnitude below another
  // batch order's distance (measured 4e-7 against 0.45).
  assert.ok(near < 1e-4, report);
  assert.ok(far > 0.1, report);
  assert.ok(Math.abs(accParallel - accAlone) <= 0.003, report);
  assert.ok(Math.abs(b.loss - a.loss) < 0.01, report);
});

test('same seed and thread count, same numbers: bit for bit, loss included', async () => {
  const runs: { loss: number; weights: Weights }[] = [];
  for (let i = 0; i < 2; i++) {
    const owner = trainer();
    const g = await group(owner);
    const r = await g.trainAsync(train, { steps: 40 });
    runs.push({ loss: r.loss, weights: owner.getWeights() });
    await g.close();
  }
  const [x, y] = runs as [(typeof runs)[0], (typeof runs)[0]];
  assert.equal(x.loss, y.loss);
  for (const [i, l] of x.weights.entries()) assert.deepEqual(y.weights[i]?.values, l.values, l.name);
});

test('uneven and empty slices: batches of 5 and a last batch of 1 (one replica idle) match 1 thread', async () => {
  const small = subset(train, range(11));
  const options: TrainerOptions = { ...OPTIONS, batchSize: 5 };
  const alone = trainer(options);
  const owner = trainer(options);
  const g = await group(owner, options, 3);
  // 3 epochs of 11 samples: batches 5, 5, 1 (slices 1/2/2 and 0/0/1).
  const a = await alone.trainAsync(small, { epochs: 3 });
  const b = await g.trainAsync(small, { epochs: 3 });
  assert.equal(b.steps, 9);
  assert.equal(b.samples, a.samples);
  assert.ok(Math.abs(b.loss - a.loss) < 1e-4, `loss ${a.loss} / ${b.loss}`);
  assert.ok(relativeDistance(alone.getWeights(), owner.getWeights()) < 1e-4);
});

test('calls continue where the last stopped; a merge between calls reaches the replicas', async () => {
  const alone = trainer();
  const owner = trainer();
  const g = await group(owner);
  for (let call = 0; call < 3; call++) {
    await alone.trainAsync(train, { steps: 6 });
    await g.trainAsync(train, { steps: 6 });
    // What a merge does between rounds: the main thread's model changes.
    const merged = alone.getWeights().map((l) => ({ ...l, values: l.values.map((v) => v * 0.9) }));
    alone.setLayers(merged);
    owner.setLayers(merged.map((l) => ({ ...l, values: l.values.slice() })));
  }
  const d = relativeDistance(alone.getWeights(), owner.getWeights());
  assert.ok(d < 1e-4, `distance ${d}`);
});

test('an abort stops every replica after the same step, and the group trains on', async () => {
  const owner = trainer();
  const g = await group(owner);
  const abort = new AbortController();
  let seen = 0;
  const running = g.trainAsync(
    train,
    { steps: 1_000_000 },
    {
      signal: abort.signal,
      onProgress: (p) => {
        seen = p.step;
        if (p.step >= 16) abort.abort();
      },
    },
  );
  const r = await running;
  assert.ok(r.steps >= 16 && r.steps < 1_000_000, `stopped after ${r.steps} steps (progress ${seen})`);
  // The replicas agree (ParallelTraining checks every trained layer) and train on.
  const again = await g.trainAsync(train, { steps: 3 });
  assert.equal(again.steps, 3);
  // Aborted before it starts: one step, like Trainer.trainAsync's first yield or less.
  const early = await g.trainAsync(train, { steps: 100 }, { signal: AbortSignal.abort() });
  assert.ok(early.steps <= 4, `${early.steps} steps`);
});

test("a replica's error reaches the caller, fails the group, and frees the other replica", async () => {
  const owner = trainer();
  const g = await group(owner);
  // A valid 13-class set on a 10-class model: only the replica whose slice holds the label
  // 12 throws, mid-step; the other waits for it at the exchange and must be released.
  const y = train.y.slice(0, 64);
  y[40] = 12;
  const bad: Dataset = { ...subset(train, range(64)), y, numClasses: 13 };
  await assert.rejects(g.trainAsync(bad, { steps: 2 }), (err: Error) => {
    assert.ok(err instanceof ParallelTrainingError, String(err));
    assert.match(err.message, /replica \d: label 12 at sample \d+ is out of range for 10 classes/);
    return true;
  });
  await assert.rejects(g.trainAsync(train, { steps: 1 }), ParallelTrainingError);
  await g.close();
  await g.close();
});

test('CNNs on replicas: RepOpt (multipliers) as on one thread; RepVGG close to it (BatchNorm normalises by each slice)', async (t) => {
  const data = makeSynthetic({ trainSamples: 96, testSamples: 10, featureShape: [8, 8, 1], seed: 4 }).train;
  const options: TrainerOptions = { ...OPTIONS, batchSize: 16 };
  for (const reparam of ['repopt', 'repvgg'] as const) {
    const spec: ModelSpec = {
      kind: 'cnn',
      stages: [[4]],
      dense: 8,
      reparam,
      ...(reparam === 'repvgg' ? { batchNormStats: 'merge' as const } : {}),
    };
    await prepareModel(spec);
    const make = () => {
      const t = new Trainer(buildModel(spec, data.featureShape, data.numClasses, MODEL_SEED), options);
      made.push(t);
      return t;
    };
    const alone = make();
    const owner = make();
    const g = await group(owner, options);
    const a = await alone.trainAsync(data, { steps: 12 });
    const b = await g.trainAsync(data, { steps: 12 });
    assert.ok(Number.isFinite(b.loss), `${reparam}: loss ${b.loss}`);
    const d = relativeDistance(alone.getWeights(), owner.getWeights());
    t.diagnostic(`${reparam}: weight distance to 1 thread ${d}, loss ${a.loss} / ${b.loss}`);
    if (reparam === 'repopt') {
      // No batch statistics: the same updates as one thread, up to rounding.
      assert.ok(d < 1e-4, `${reparam}: distance ${d}, loss ${a.loss} / ${b.loss}`);
    } else {
      // Each replica normalises by its own slice's statistics (as data-parallel BatchNorm
      // without synchronised statistics does): close to one thread, not equal.
      assert.ok(d < 0.1, `${reparam}: distance ${d}, loss ${a.loss} / ${b.loss}`);
      const stats = owner.model.variables.filter((v) => !v.trainable);
      assert.ok(stats.length > 0, 'RepVGG has moving statistics');
    }
    await g.close();
  }
});

test('thread counts: bad values are refused; 1 thread and head mode start no worker', async () => {
  for (const bad of [0, -1, 1.5, MAX_THREADS + 1, Number.NaN])
    assert.throws(() => checkThreads(bad), /threads must be an integer in \[1, 64\]/, String(bad));
  assert.equal(DEFAULT_THREADS, 1);
  assert.equal(replicasFor(2, { batchSize: 64, trainable: 'all' }), 2);
  assert.equal(replicasFor(8, { batchSize: 4, trainable: 'all' }), 4);
  assert.equal(replicasFor(4, { batchSize: 64, trainable: 'head' }), 1);
  const owner = trainer();
  const one = await trainingThreads(owner, OPTIONS, { threads: 1, backend: 'wasm' });
  assert.equal(one.replicas, 1);
  assert.equal(one.training, owner, 'one thread trains on the calling thread');
  await one.close();
  await assert.rejects(
    ParallelTraining.start({ replicas: 1, backend: 'wasm', trainer: owner, options: OPTIONS }),
    RangeError,
  );
});

test('local SGD (syncEvery 4): replicas agree after every call, accuracy near 1 thread, the same numbers twice', async (t) => {
  const alone = trainer();
  await alone.trainAsync(train, { epochs: 2 });
  const accAlone = alone.evaluate(test1k).overallAccuracy;
  const runs: { loss: number; weights: Weights; accuracy: number; syncEvery: number }[] = [];
  for (let i = 0; i < 2; i++) {
    const owner = trainer();
    const g = await group(owner, OPTIONS, 2, 4);
    // 2 epochs of 3000 / 32: 188 steps, not a multiple of 4: the last synchronisation is
    // the last step's (ParallelTraining fails the call if a trained layer differs).
    const r = await g.trainAsync(train, { epochs: 2 });
    assert.equal(r.steps, 188);
    runs.push({
      loss: r.loss,
      weights: owner.getWeights(),
      accuracy: owner.evaluate(test1k).overallAccuracy,
      syncEvery: g.syncEvery,
    });
    await g.close();
  }
  const [x, y] = runs as [(typeof runs)[0], (typeof runs)[0]];
  const report = `accuracy 1 thread ${accAlone}, local SGD ${x.accuracy}; loss ${x.loss}`;
  t.diagnostic(report);
  assert.equal(x.syncEvery, 4);
  // Not the same updates as one thread: close in accuracy (1000 test samples), not in bits.
  assert.ok(Math.abs(x.accuracy - accAlone) <= 0.03, report);
  assert.equal(x.loss, y.loss);
  for (const [i, l] of x.weights.entries()) assert.deepEqual(y.weights[i]?.values, l.values, l.name);
});

test('local SGD: an abort stops the group at a synchronisation; a stop is not carried into the next call', async () => {
  const owner = trainer();
  const g = await group(owner, OPTIONS, 2, 5);
  const abort = new AbortController();
  const r = await g.trainAsync(
    train,
    { steps: 1_000_000 },
    {
      signal: abort.signal,
      onProgress: (p) => {
        if (p.step >= 16) abort.abort();
      },
    },
  );
  assert.ok(r.steps >= 16 && r.steps < 1_000_000 && r.steps % 5 === 0, `stopped after ${r.steps} steps`);
  // Fewer steps than syncEvery: one synchronisation, at the end; the replicas agree.
  const again = await g.trainAsync(train, { steps: 3 });
  assert.equal(again.steps, 3);
  const early = await g.trainAsync(train, { steps: 100 }, { signal: AbortSignal.abort() });
  assert.equal(early.steps, 5, 'aborted before it starts: stops at the first synchronisation');
});

test('local SGD, uneven and empty slices: batches of 5 and 1 on 3 replicas, k = 2', async () => {
  const small = subset(train, range(11));
  const options: TrainerOptions = { ...OPTIONS, batchSize: 5 };
  const owner = trainer(options);
  const g = await group(owner, options, 3, 2);
  const b = await g.trainAsync(small, { epochs: 3 });
  assert.equal(b.steps, 9);
  assert.equal(b.samples, 33);
  assert.ok(Number.isFinite(b.loss));
});

test('syncEvery: bad values are refused (helper, group start); defaults per model', async () => {
  for (const bad of [0, -1, 1.5, MAX_SYNC_EVERY + 1, Number.NaN])
    assert.throws(() => checkSyncEvery(bad), /syncEvery must be an integer in \[1, 1000\]/, String(bad));
  assert.ok(defaultSyncEvery(DEFAULT_MLP) >= 1 && defaultSyncEvery(DEFAULT_CNN) >= 1);
  const owner = trainer();
  await assert.rejects(
    ParallelTraining.start({ replicas: 2, backend: 'wasm', trainer: owner, options: OPTIONS, syncEvery: 0 }),
    RangeError,
  );
});
