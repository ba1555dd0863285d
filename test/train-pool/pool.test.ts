/**
 * The training pool: pooled training gives the same weights as in-process training (the
 * peer's whole state travels with each request), aborts settle with the steps done, worker
 * errors reach the caller as errors, and closing rejects what is outstanding. One pool of
 * one worker for most of the file (a worker's backend start costs about a second); the
 * two-worker test and the closing test start their own.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PoolProtocolError, parseReply, parseRequest } from '../../node/train-pool/messages.ts';
import { TrainingPool, TrainingPoolError } from '../../node/train-pool/pool.ts';
import { PooledTraining } from '../../node/train-pool/pooled-training.ts';
import { makeSynthetic } from '../../src/data/synthetic.ts';
import { buildModel } from '../../src/model/model.ts';
import type { ModelSpec } from '../../src/model/spec.ts';
import { initBackend } from '../../src/train/backend.ts';
import { batchOrderRng, Trainer, type TrainerOptions } from '../../src/train/trainer.ts';

const SPEC: ModelSpec = { kind: 'mlp', hidden: [16] };
const OPTIONS: TrainerOptions = { batchSize: 16, seed: 7, optimizer: { learningRate: 0.05, momentum: 0.9 } };
const data = makeSynthetic({ trainSamples: 200, testSamples: 20, featureShape: [8, 8, 1], seed: 3 }).train;
/** The closing test closes the pool this long after starting a long training (it is running by then). */
const CLOSE_AFTER_MS = 100;

function trainer(): Trainer {
  return new Trainer(buildModel(SPEC, data.featureShape, data.numClasses, 5), OPTIONS);
}

let pool: TrainingPool;
const made: Trainer[] = [];
before(async () => {
  await initBackend('wasm');
  pool = await TrainingPool.start({ workers: 1, backend: 'wasm' });
});
after(async () => {
  await pool.close();
  for (const t of made) {
    t.dispose();
    t.model.dispose();
  }
});

function fresh(): Trainer {
  const t = trainer();
  made.push(t);
  return t;
}

test('pooled training equals in-process training over several calls (momentum and batch order persist)', async () => {
  const local = fresh();
  const pooledOwner = fresh();
  const pooled = await PooledTraining.register(pool, 'same', pooledOwner, OPTIONS, data);
  for (let call = 0; call < 3; call++) {
    const a = await local.trainAsync(data, { steps: 5 });
    const b = await pooled.trainAsync(data, { steps: 5 }, {});
    assert.equal(b.steps, a.steps);
    assert.equal(b.loss, a.loss, `loss of call ${call}`);
    // A merge between rounds changes the model the same way on both sides.
    const merged = local.getWeights().map((l) => ({ ...l, values: l.values.map((v) => v * 0.9) }));
    local.setLayers(merged);
    pooledOwner.setLayers(merged.map((l) => ({ ...l, values: l.values.slice() })));
  }
  const want = local.getWeights();
  const got = pooledOwner.getWeights();
  for (const [i, l] of want.entries()) {
    assert.deepEqual(got[i]?.values, l.values, `layer ${l.name}`);
  }
});

test('an abort during pooled training settles with the steps done so far', async () => {
  const owner = fresh();
  const pooled = await PooledTraining.register(pool, 'aborted', owner, OPTIONS, data);
  const abort = new AbortController();
  const running = pooled.trainAsync(data, { steps: 100_000 }, { signal: abort.signal });
  setTimeout(() => abort.abort(), 200);
  const r = await running;
  assert.ok(r.steps > 0 && r.steps < 100_000, `stopped early after ${r.steps} steps`);
  // Already aborted: like in-process trainAsync, it stops at its first yield (4 steps).
  const few = await pooled.trainAsync(data, { steps: 100 }, { signal: abort.signal });
  assert.ok(few.steps <= 4, `${few.steps} steps`);
});

test('worker errors reach the caller; the worker keeps serving', async () => {
  const nothing = { weights: [], velocity: null, batches: batchOrderRng(1).state() };
  await assert.rejects(pool.train('nobody', nothing, { steps: 1 }), /not registered/);
  const owner = fresh();
  await assert.rejects(
    pool.register({
      peer: 'bad',
      spec: SPEC,
      inputShape: data.featureShape,
      numClasses: data.numClasses,
      options: { ...OPTIONS, batchSize: 0 },
      data,
    }),
    (err: Error) => err instanceof TrainingPoolError && /batchSize/.test(err.message),
  );
  // A failed registration leaves no home behind: the peer is not registered.
  await assert.rejects(
    pool.train('bad', { ...nothing, weights: owner.getWeights() }, { steps: 1 }),
    /peer bad is not registered with the training pool/,
  );
  const pooled = await PooledTraining.register(pool, 'after-error', owner, OPTIONS, data);
  assert.equal((await pooled.trainAsync(data, { steps: 2 }, {})).steps, 2);
  await assert.rejects(pooled.trainAsync({ ...data }, { steps: 1 }, {}), /not the registered training set/);
});

test('a worker that cannot start is reported, and closing rejects outstanding requests', async () => {
  await assert.rejects(
    TrainingPool.start({ workers: 1, backend: 'nope' as 'wasm' }),
    (err: Error) => err instanceof TrainingPoolError && /unknown backend/.test(err.message),
  );
  await assert.rejects(TrainingPool.start({ workers: 0, backend: 'wasm' }), RangeError);
  const other = await TrainingPool.start({ workers: 1, backend: 'wasm' });
  try {
    const pooled = await PooledTraining.register(other, 'closing', fresh(), OPTIONS, data);
    const running = pooled.trainAsync(data, { steps: 100_000 }, {});
    // Close while the training runs (after it was posted), and await the close here.
    await new Promise((resolve) => setTimeout(resolve, CLOSE_AFTER_MS));
    await Promise.all([assert.rejects(running, /training pool closed/), other.close()]);
    await assert.rejects(pooled.trainAsync(data, { steps: 1 }, {}), /closed/);
  } finally {
    await other.close();
  }
});

test('messages are validated at the boundary', () => {
  const batches = batchOrderRng(1).state();
  const state = (over: object) => ({ weights: [], velocity: null, batches, ...over });
  assert.throws(
    () => parseRequest({ kind: 'train', id: 1, peer: 'p', state: state({}), amount: { steps: -1 } }),
    PoolProtocolError,
  );
  assert.throws(
    () =>
      parseRequest({
        kind: 'train',
        id: 1,
        peer: 'p',
        state: state({ weights: [{ name: 'a', shape: [2], values: new Float32Array(3) }] }),
        amount: { steps: 1 },
      }),
    /3 values/,
  );
  for (const [bad, why] of [
    [state({ velocity: [new Float64Array(2)] }), /velocity/],
    [state({ batches: { ...batches, words: [1, 2, 3] } }), /words/],
    [state({ batches: { ...batches, words: [1, 2, 3, -1] } }), /words/],
    [state({ batches: { ...batches, spare: Number.NaN } }), /spare/],
    [{ weights: [], batches }, /velocity/],
  ] as const)
    assert.throws(() => parseRequest({ kind: 'train', id: 1, peer: 'p', state: bad, amount: { steps: 1 } }), why);
  assert.throws(() => parseReply({ kind: 'nope' }), /unknown reply kind/);
  assert.throws(
    () => parseReply({ kind: 'trained', id: 1, state: state({}), result: { steps: 'x' } }),
    PoolProtocolError,
  );
  assert.deepEqual(parseReply({ kind: 'failed', id: null, message: 'boom' }), {
    kind: 'failed',
    id: null,
    message: 'boom',
  });
});

test('two workers: any worker trains any peer, results equal in-process training, a momentum reset holds', async () => {
  const two = await TrainingPool.start({ workers: 2, backend: 'wasm' });
  try {
    // Three peers on two workers: each call lands on whichever worker is free, so a peer's
    // consecutive calls run on different workers; its state travels with the request.
    const locals = [fresh(), fresh(), fresh()];
    const owners = [fresh(), fresh(), fresh()];
    const pooled = await Promise.all(owners.map((o, i) => PooledTraining.register(two, `peer-${i}`, o, OPTIONS, data)));
    for (let call = 0; call < 3; call++) {
      const got = await Promise.all(pooled.map((p) => p.trainAsync(data, { steps: 5 }, {})));
      for (const [i, local] of locals.entries()) {
        const want = await local.trainAsync(data, { steps: 5 });
        assert.equal(got[i]?.loss, want.loss, `peer ${i}, call ${call}`);
      }
      if (call === 1) {
        // The owner's momentum is the peer's: resetting it resets pooled training's.
        for (const t of [...locals, ...owners]) t.resetOptimizer();
      }
    }
    for (const [i, local] of locals.entries()) {
      const want = local.getWeights();
      const got = owners[i]?.getWeights() ?? [];
      for (const [k, l] of want.entries()) assert.deepEqual(got[k]?.values, l.values, `peer ${i} layer ${l.name}`);
    }
  } finally {
    await two.close();
  }
});
