/**
 * Scoring split at the MLP's first layer (Model.linearInput, Trainer.linearEvaluator /
 * mergeScoring, LeaveOutMixer's scores from projections): the split `evaluate` gives the
 * same scores as evaluateWeights, mixes scored from projections match scoring the
 * materialized mix within float32 rounding, and the default merge decides the same with
 * and without the split.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createRng, type Rng } from '../../src/data/rng.ts';
import { makeSynthetic } from '../../src/data/synthetic.ts';
import { bristleLdawaStrategy } from '../../src/merge/bristle-ldawa.ts';
import { LeaveOutMixer } from '../../src/merge/mix.ts';
import { mergeWithReport } from '../../src/merge/report.ts';
import type { Candidate, ClassScores, MergeContext } from '../../src/merge/types.ts';
import { getWeights, type Model } from '../../src/model/model.ts';
import type { ModelSpec } from '../../src/model/spec.ts';
import { cloneWeights, mapLayers, type Weights } from '../../src/model/weights.ts';
import { initBackend } from '../../src/train/backend.ts';
import type { Trainer } from '../../src/train/trainer.ts';
import { noisy, withTrainer as withTrainerOf } from './scoring-fixtures.ts';

const CLASSES = 10;
const MLP: ModelSpec = { kind: 'mlp', hidden: [48, 24] };
const data = makeSynthetic({ seed: 11 });
/** A validation split of 150 samples, scored in batches of 64 (the last one partial). */
const validation = { ...data.test, x: data.test.x.subarray(0, 150 * 64), y: data.test.y.subarray(0, 150) };

before(async () => {
  await initBackend('wasm');
});

function withTrainer<T>(spec: ModelSpec, trainable: 'all' | 'head', fn: (t: Trainer, m: Model) => T): T {
  return withTrainerOf(spec, { featureShape: data.train.featureShape, trainable, evalBatchSize: 64 }, fn);
}

function relativeGap(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
}

test('linearEvaluator exists only for full-model MLPs with a hidden layer', () => {
  withTrainer(MLP, 'all', (t) => assert.ok(t.linearEvaluator(validation)));
  withTrainer(MLP, 'head', (t) => assert.equal(t.linearEvaluator(validation), undefined));
  withTrainer({ kind: 'mlp', hidden: [] }, 'all', (t) => assert.equal(t.linearEvaluator(validation), undefined));
  withTrainer({ kind: 'cnn', stages: [[4]], dense: 8, reparam: 'none' }, 'all', (t) =>
    assert.equal(t.linearEvaluator(validation), undefined),
  );
});

test("mergeScoring's evaluate gives exactly evaluateWeights' scores and reuses each kernel's product", () => {
  withTrainer(MLP, 'all', (trainer, model) => {
    trainer.train(data.train, { steps: 30 });
    const rng = createRng(3);
    const own = cloneWeights(getWeights(model));
    const scoring = trainer.mergeScoring(validation);
    const linear = scoring.linearInput;
    assert.ok(linear);
    for (const sigma of [0, 0.05, 0.5]) {
      const w = noisy(own, sigma, rng);
      assert.deepEqual(scoring.evaluate(w), trainer.evaluateWeights(w, validation), `sigma ${sigma}`);
    }
    const kernel = (own.find((l) => l.name === linear.kernel) as { values: Float32Array }).values;
    assert.equal(linear.project(kernel), linear.project(kernel), 'memoized by the values array');
    assert.throws(() => linear.project(new Float32Array(3)), /must have/);
    assert.throws(() => linear.evaluateProjected(new Float32Array(3), own), /must have/);
  });
});

test('evaluateWeights: per-sample losses average to the loss', () => {
  for (const trainable of ['all', 'head'] as const) {
    withTrainer(MLP, trainable, (trainer, model) => {
      trainer.train(data.train, { steps: 10 });
      const s = trainer.evaluateWeights(getWeights(model), validation);
      assert.ok(s.sampleLoss, trainable);
      assert.equal(s.sampleLoss.length, 150);
      const mean = s.sampleLoss.reduce((sum, x) => sum + x, 0) / 150;
      assert.ok(relativeGap(mean, s.loss) < 1e-5, `${trainable}: ${mean} vs ${s.loss}`);
    });
  }
});

/** Own after training and candidates around it (one far, one sign-flipped), as in a merge. */
function mergeSetup(trainer: Trainer, model: Model, rng: Rng): { own: Weights; candidates: Candidate[] } {
  trainer.train(data.train, { steps: 40 });
  const own = cloneWeights(getWeights(model));
  const models = [0.02, 0.05, 0.05, 0.1, 0.2, 0.5].map((s) => noisy(own, s, rng));
  models.push(mapLayers(own, (l) => Float32Array.from(l.values, (v) => -v)));
  models.push(models[1]); // a colluder copy
  return { own, candidates: models.map((weights, j) => ({ peer: `p${j}`, seq: 1, weights, samples: 100 })) };
}

test('LeaveOutMixer scores from projections match scoring the materialized mixes within 1e-5', () => {
  withTrainer(MLP, 'all', (trainer, model) => {
    const rng = createRng(5);
    const { own, candidates } = mergeSetup(trainer, model, rng);
    const models = candidates.map((c) => c.weights);
    const layers = own.map((_, i) => i);
    const weights = models.map(() => Float64Array.from(layers, () => 0.2 + rng.next()));
    const clip = models.map((_, j) => (j % 3 === 0 ? 0.5 : 1));
    const active = models.map((_, j) => j !== 2);
    const scoring = trainer.mergeScoring(validation);
    const plain = new LeaveOutMixer(own, models, layers, weights, clip, active, 1);
    const split = new LeaveOutMixer(own, models, layers, weights, clip, active, 1, scoring.linearInput);
    const evaluate = (w: Weights): ClassScores => trainer.evaluateWeights(w, validation);
    const compare = (a: ClassScores, b: ClassScores, what: string): void => {
      assert.ok(relativeGap(a.loss, b.loss) < 1e-5, `${what}: loss ${a.loss} vs ${b.loss}`);
      assert.ok(Math.abs(a.overallAccuracy - b.overallAccuracy) <= 1 / 150 + 1e-12, `${what}: accuracy`);
    };
    compare(split.fullScores(scoring.evaluate), plain.fullScores(evaluate), 'full');
    compare(plain.fullScores(evaluate), evaluate(plain.full()), 'plain full');
    for (const group of [[0], [1, 7], [6], [3, 4, 5]]) {
      const want = evaluate(plain.without(group));
      compare(split.withoutScores(group, scoring.evaluate), want, `without [${group}]`);
      compare(plain.withoutScores(group, evaluate), want, `plain without [${group}]`);
    }
    // Without a kernel coefficient the projection path must still match (clip 0 on one member).
    const zeroClip = new LeaveOutMixer(
      own,
      models,
      layers,
      weights,
      [0, ...clip.slice(1)],
      active,
      1,
      scoring.linearInput,
    );
    compare(zeroClip.withoutScores([0, 1], scoring.evaluate), evaluate(plain.without([0, 1])), 'no-op member');
  });
});

test('bristle+ldawa merges the same with and without the split evaluator', () => {
  withTrainer(MLP, 'all', (trainer, model) => {
    const { own, candidates } = mergeSetup(trainer, model, createRng(9));
    const scoring = trainer.mergeScoring(validation);
    const base: MergeContext = {
      evaluate: (w) => trainer.evaluateWeights(w, validation),
      familiarClasses: [0, 1, 2, 3],
      numClasses: CLASSES,
      outputLayer: model.outputLayer,
      ownSamples: 100,
      round: 3,
      rng: createRng(1),
    };
    const plain = mergeWithReport(bristleLdawaStrategy(), own, candidates, base);
    const split = mergeWithReport(bristleLdawaStrategy(), own, candidates, {
      ...base,
      evaluate: scoring.evaluate,
      ...(scoring.linearInput === undefined ? {} : { linearInput: scoring.linearInput }),
    });
    assert.ok(plain.report && split.report);
    assert.deepEqual(split.report.rejected, plain.report.rejected);
    assert.ok(
      plain.report.rejected.some((r) => r.reason === 'harmful' || r.reason === 'too-far'),
      'a stage rejected',
    );
    assert.deepEqual(
      split.report.used.map((u) => u.peer),
      plain.report.used.map((u) => u.peer),
    );
    split.weights.forEach((l, i) => {
      const want = (plain.weights[i] as { values: Float32Array }).values;
      for (let k = 0; k < l.values.length; k++) assert.equal(l.values[k], want[k], `${l.name}[${k}]`);
    });
  });
});
