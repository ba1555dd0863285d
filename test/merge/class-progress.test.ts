/**
 * Class progress (bristle+ldawa `progress`): per-class mean losses, the classes a model
 * improved against a reference, and the candidates rejected for improving too few.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bristleLdawaStrategy } from '../../src/merge/bristle-ldawa.ts';
import {
  classMeanLoss,
  improvedClasses,
  MAX_PROGRESS_LAG,
  StartLosses,
  withoutProgress,
} from '../../src/merge/class-progress.ts';
import { mergeWithReport } from '../../src/merge/report.ts';
import type { ClassScores } from '../../src/merge/types.ts';
import type { Weights } from '../../src/model/weights.ts';
import { cand, context, vec } from './fixtures.ts';

test('classMeanLoss averages per class and leaves classes without samples NaN', () => {
  const loss = classMeanLoss([1, 3, 2, 9], [0, 0, 1, 7], 3);
  assert.deepEqual(Array.from(loss.subarray(0, 2)), [2, 2]);
  assert.ok(Number.isNaN(loss[2]));
});

test('improvedClasses counts relative drops above minGain; NaN, zero and non-finite never count', () => {
  assert.equal(improvedClasses([0.5, 0.96, 2, 1], [1, 1, 1, Number.NaN], 0.05), 1);
  assert.equal(improvedClasses([0.5, Number.POSITIVE_INFINITY], [1, 1], 0.05), 1);
  assert.equal(improvedClasses([0, 0], [0, 1], 0.05), 1);
});

test('withoutProgress: fewer than half the median count over own and the candidates', () => {
  // 4-class shards: median 4, so 0 and 1 improved classes are rejected.
  assert.deepEqual(withoutProgress([4, 3, 1, 0, 4], 4), [2, 3]);
  // One-class peers: median 1, only a candidate that improves none is rejected.
  assert.deepEqual(withoutProgress([1, 1, 0, 2], 1), [2]);
  assert.deepEqual(withoutProgress([], 3), []);
});

/** One validation sample per class; sample loss of class c = (w_c - 1)^2 + 0.1. */
function perClassEvaluator(w: Weights): ClassScores {
  const v = w[0].values;
  const sampleLoss = Float32Array.from(v, (x) => (x - 1) ** 2 + 0.1);
  const f1 = Float64Array.from(v, () => 1);
  return { f1, accuracy: f1, overallAccuracy: 0, loss: sampleLoss.reduce((a, b) => a + b, 0), sampleLoss };
}

/** Four classes, one validation sample each; own's start model is all zeros. */
function progressContext(round = 0) {
  return context({
    evaluate: perClassEvaluator,
    numClasses: 4,
    familiarClasses: [0, 1],
    reference: vec([0, 0, 0, 0]),
    validationSplit: { labels: [0, 1, 2, 3], privateCount: 0 },
    round,
  });
}

test('progress reject: a candidate that improves no class against own start model is rejected as no-progress', () => {
  const ctx = progressContext();
  const off = { rho: 0, gate: 0, far: 0, kappa: 0, passes: 0, sampleCap: 0 } as const;
  const own = vec([1, 1, 0, 0]);
  // Honest senders improve the classes they hold; the IPM-like copy steps back on all.
  const offered = [
    cand('a', vec([0, 0, 1, 1])),
    cand('b', vec([1, 0, 1, 0])),
    cand('ipm', vec([-0.5, -0.5, -0.5, -0.5])),
  ];
  // On by default with D neighbours, off with all-to-all.
  const byDefault = (neighbours: number | 'all') =>
    mergeWithReport(bristleLdawaStrategy(off), own, offered, { ...ctx, neighbours }).report?.rejected.map(
      (r) => r.peer,
    );
  assert.deepEqual(byDefault(8), ['ipm']);
  assert.deepEqual(byDefault('all'), []);
  const { report } = mergeWithReport(bristleLdawaStrategy({ ...off, progress: 'reject' }), own, offered, ctx);
  assert.deepEqual(
    report?.rejected.map((r) => [r.peer, r.reason]),
    [['ipm', 'no-progress']],
  );
  // 'auto' applies it with D neighbours only.
  const auto = (neighbours: number | 'all') =>
    mergeWithReport(bristleLdawaStrategy({ ...off, progress: 'auto' }), own, offered, {
      ...ctx,
      neighbours,
    }).report?.rejected.map((r) => r.reason);
  assert.deepEqual(auto(8), ['no-progress']);
  assert.deepEqual(auto('all'), []);
  // Without per-class losses (no labels) the stage is skipped.
  const noLabels = mergeWithReport(bristleLdawaStrategy({ ...off, progress: 'reject' }), own, offered, {
    ...ctx,
    validationSplit: undefined,
  }).report;
  assert.deepEqual(noLabels?.rejected, []);
});

/** bristle+ldawa with class progress on and the other stages off but `passes` leave-group-out passes. */
function progressOnly(passes: number) {
  return bristleLdawaStrategy({ rho: 0, gate: 0, far: 0, kappa: 0, passes, sampleCap: 0, progress: 'reject' });
}

test('progress: a sender with a good record that stops improving is rejected too', () => {
  const merge = progressOnly(1);
  const ctx = progressContext;
  const own = vec([1, 1, 0, 0]);
  const honest = [cand('b', vec([0, 0, 1, 1])), cand('c', vec([1, 0, 1, 0]))];
  // Three rounds in which 'a' helps: it earns a good record (IPM copies do, late in a run).
  for (let round = 0; round < 3; round++) {
    const { report } = mergeWithReport(merge, own, [...honest, cand('a', vec([1, 1, 1, 1]))], ctx(round));
    assert.ok(report?.used.some((u) => u.peer === 'a'));
  }
  const behind = vec([-0.5, -0.5, -0.5, -0.5]);
  const { report } = mergeWithReport(merge, own, [...honest, cand('a', behind)], ctx(3));
  assert.deepEqual(
    report?.rejected.filter((r) => r.peer === 'a').map((r) => r.reason),
    ['no-progress'],
  );
});

test('progress: a lagging sender is judged against own start model of its lag, a step back still is not', () => {
  const strategy = progressOnly(0);
  const at = (round: number, start: number[]) => ({ ...progressContext(round), reference: vec(start) });
  const honest = [cand('b', vec([1, 1, 1, 0.5])), cand('c', vec([1, 1, 0.5, 1]))];
  // Round 0: own started at 0 on every class.
  mergeWithReport(strategy, vec([1, 1, 0, 0]), honest, at(0, [0, 0, 0, 0]));
  // Round 2: own started near 1 on every class. 'slow' trained from a round-0-like start:
  // it improved every class on that, one on own's newer start.
  const slow = vec([0.8, 0.85, 0.3, 0.3]);
  const reasons = (lag: number) =>
    mergeWithReport(
      strategy,
      vec([1, 1, 0.9, 0.9]),
      [...honest, { ...cand('slow', slow), lag }],
      at(2, [0.8, 0.8, 0.8, 0.8]),
    )
      .report?.rejected.filter((r) => r.peer === 'slow')
      .map((r) => r.reason);
  assert.deepEqual(reasons(0), ['no-progress'], 'keeping pace, it is a step back from own start');
  assert.deepEqual(reasons(2), [], 'two rounds behind: judged against the round-0 start, it progressed');
  // A model that improves nothing even on the oldest start kept is rejected at any lag.
  const back = mergeWithReport(
    strategy,
    vec([1, 1, 0.9, 0.9]),
    [...honest, { ...cand('ipm', vec([-0.5, -0.5, -0.5, -0.5])), lag: 3 }],
    at(3, [0.8, 0.8, 0.8, 0.8]),
  ).report?.rejected.map((r) => [r.peer, r.reason]);
  assert.deepEqual(back, [['ipm', 'no-progress']]);
});

test('StartLosses: the start losses of a lag, the oldest kept within it, and at most MAX_PROGRESS_LAG back', () => {
  const s = new StartLosses();
  const start = {};
  const loss = (x: number) => Float64Array.of(x);
  s.set(1, {}, loss(1));
  s.set(2, {}, loss(2));
  s.set(4, start, loss(4));
  assert.equal(s.at(4, start)?.[0], 4);
  assert.equal(s.at(4, {}), undefined, 'another start model in the same round (a catch-up merge) is evaluated anew');
  assert.equal(s.lagging(4, 0), undefined);
  assert.equal(s.lagging(4, 1), undefined, 'round 3 was not kept, nothing older within a lag of 1');
  assert.equal(s.lagging(4, 2)?.[0], 2);
  assert.equal(s.lagging(4, 3)?.[0], 1);
  assert.equal(s.lagging(4, 50)?.[0], 1, `at most ${MAX_PROGRESS_LAG} rounds back`);
  s.set(5, {}, loss(5));
  assert.equal(s.lagging(5, 9)?.[0], 2, 'round 1 is more than MAX_PROGRESS_LAG back: forgotten');
});
