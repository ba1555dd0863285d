/**
 * A merge's scoring split at the task's public rows (ScoringSplit, SharedPublicRows): the
 * split scores agree with unsplit scoring within float32 rounding, a peer that takes the
 * public rows' results from another gets exactly the scores it would have computed, and
 * only the arrays the caller calls shared are ever shared; inputs that are zero throughout
 * a batch are left out of the first-layer product without changing it.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createRng } from '../../src/data/rng.ts';
import { makeSynthetic } from '../../src/data/synthetic.ts';
import type { ClassScores } from '../../src/model/evaluation.ts';
import { getWeights, type Model } from '../../src/model/model.ts';
import type { ModelSpec } from '../../src/model/spec.ts';
import { cloneWeights, type Weights } from '../../src/model/weights.ts';
import { initBackend } from '../../src/train/backend.ts';
import { SharedPublicRows } from '../../src/train/public-rows.ts';
import type { Trainer } from '../../src/train/trainer.ts';
import { noisy, withTrainer as withTrainerOf } from './scoring-fixtures.ts';

const MLP: ModelSpec = { kind: 'mlp', hidden: [48, 24] };
const data = makeSynthetic({ seed: 5, testSamples: 400 });
const FEATURES = 64;
/** Two peers' validation sets: 37 and 22 own rows (edge rows of the GEMM), then the same 70 public rows. */
const publicRows = { x: data.test.x.subarray(200 * FEATURES, 270 * FEATURES), y: data.test.y.subarray(200, 270) };
function validationOf(from: number, own: number) {
  const x = new Float32Array((own + 70) * FEATURES);
  x.set(data.test.x.subarray(from * FEATURES, (from + own) * FEATURES));
  x.set(publicRows.x, own * FEATURES);
  const y = new Uint8Array(own + 70);
  y.set(data.test.y.subarray(from, from + own));
  y.set(publicRows.y, own);
  return { ...data.test, x, y };
}
const first = validationOf(0, 37);
const second = validationOf(100, 22);

before(async () => {
  await initBackend('wasm');
});

function withTrainer<T>(fn: (t: Trainer, m: Model) => T): T {
  return withTrainerOf(MLP, { featureShape: data.train.featureShape, trainable: 'all', evalBatchSize: 32 }, fn);
}

function close(a: ClassScores, b: ClassScores, what: string): void {
  assert.ok(Math.abs(a.loss - b.loss) <= 1e-5 * Math.abs(b.loss), `${what}: loss ${a.loss} vs ${b.loss}`);
  const la = a.sampleLogits as Float32Array;
  const lb = b.sampleLogits as Float32Array;
  for (let i = 0; i < la.length; i++) assert.ok(Math.abs(la[i] - lb[i]) <= 1e-4, `${what}: logit ${i}`);
}

test('split scores match unsplit scores within float32 rounding', () => {
  withTrainer((trainer, model) => {
    trainer.train(data.train, { steps: 20 });
    const w = cloneWeights(getWeights(model));
    const split = trainer.mergeScoring(first, { from: 37 });
    close(split.evaluate(w), trainer.evaluateWeights(w, first), 'own model');
    assert.throws(() => trainer.mergeScoring(first, { from: 200 }), /scoring split/);
    assert.throws(() => trainer.mergeScoring(first, { from: 2.5 }), /scoring split/);
    // Every row public, or none: one run of rows.
    assert.deepEqual(trainer.mergeScoring(first, { from: 107 }).evaluate(w), trainer.mergeScoring(first).evaluate(w));
  });
});

test('peers that share the public rows get exactly the scores they compute alone', () => {
  withTrainer((trainer, model) => {
    trainer.train(data.train, { steps: 20 });
    const rng = createRng(9);
    const own = cloneWeights(getWeights(model));
    const copies = [noisy(own, 0.05, rng), noisy(own, 0.2, rng)];
    const shared = new Set(copies.flatMap((w) => w.map((l) => l.values)));
    const store = new SharedPublicRows();
    const id1 = store.rowsId(first.x.subarray(37 * FEATURES), first.y.subarray(37), trainer.evalBatchSize);
    const id2 = store.rowsId(second.x.subarray(22 * FEATURES), second.y.subarray(22), trainer.evalBatchSize);
    assert.equal(id1, id2, 'the same public rows are one row set');
    assert.notEqual(store.rowsId(first.x.subarray(36 * FEATURES), first.y.subarray(36), trainer.evalBatchSize), id1);
    assert.notEqual(store.rowsId(second.x.subarray(22 * FEATURES), second.y.subarray(22), 64), id1);

    for (const [v, from] of [
      [first, 37],
      [second, 22],
    ] as const) {
      const alone = trainer.mergeScoring(v, { from });
      const sharing = trainer.mergeScoring(v, { from, share: store.share(id1, (a) => shared.has(a)) });
      for (const w of [...copies, own]) assert.deepEqual(sharing.evaluate(w), alone.evaluate(w));
      // A mix scored from projections is never taken from the store.
      const linear = sharing.linearInput;
      assert.ok(linear);
      const kernel = (w: Weights) => (w.find((l) => l.name === linear.kernel) as { values: Float32Array }).values;
      assert.deepEqual(
        linear.evaluateProjected(linear.project(kernel(copies[0])), copies[1]),
        (alone.linearInput ?? linear).evaluateProjected(
          (alone.linearInput ?? linear).project(kernel(copies[0])),
          copies[1],
        ),
      );
    }
    // Each copy's product and scores on the public rows were computed once (by the first
    // peer); the second peer took them. Own's never entered the store.
    assert.deepEqual(store.stats, { hits: 2 + 2, misses: 2 + 2 });
  });
});

test('features zero in every row of a batch are left out of the product exactly', () => {
  withTrainer((trainer, model) => {
    trainer.train(data.train, { steps: 20 });
    // 40 of 64 features zero in every row (a digit's empty border), the rest as they are.
    const x = Float32Array.from(first.x, (v, i) => (i % FEATURES < 16 || i % FEATURES >= 40 ? 0 : v));
    const v = { ...first, x };
    const w = cloneWeights(getWeights(model));
    assert.deepEqual(trainer.mergeScoring(v).evaluate(w), trainer.evaluateWeights(w, v));
    assert.deepEqual(trainer.mergeScoring(v, { from: 37 }).evaluate(w).f1, trainer.evaluateWeights(w, v).f1);
    // A non-finite kernel row of a zero feature: 0 x Inf is NaN in the full product, and stays so.
    const kernel = w[0].values;
    const broken = w.map((l, i) =>
      i === 0 ? { ...l, values: Float32Array.from(kernel, (k, j) => (j === 3 ? Number.POSITIVE_INFINITY : k)) } : l,
    );
    const scored = trainer.mergeScoring(v).evaluate(broken);
    assert.deepEqual(scored, trainer.evaluateWeights(broken, v));
    const projected = trainer.mergeScoring(v).linearInput?.project(broken[0].values);
    assert.ok(projected !== undefined && Number.isNaN(projected[3]), 'the product keeps the NaN');
    // Every input zero: the product is zero, not the contents of an uninitialised buffer.
    const blank = { ...first, x: new Float32Array(first.x.length) };
    assert.deepEqual(trainer.mergeScoring(blank).evaluate(w), trainer.evaluateWeights(w, blank));
  });
});
