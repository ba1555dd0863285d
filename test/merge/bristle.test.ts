import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bristleStrategy, ldawaStrategy } from '../../src/merge/bristle.ts';
import {
  bristleDistance,
  sortByDistance,
  takePerThird,
  thirdQuotas,
  thirdSizes,
} from '../../src/merge/bristle-distance.ts';
import { bristleLdawaStrategy } from '../../src/merge/bristle-ldawa.ts';
import {
  bristlePerformance,
  bristleWeights,
  certainty,
  classScore,
  scoreToWeight,
} from '../../src/merge/bristle-performance.ts';
import { ldawa, ldawaFactor } from '../../src/merge/ldawa.ts';
import { mergeWithReport } from '../../src/merge/report.ts';
import { combine, uniformWeighting } from '../../src/merge/weighting.ts';
import { layer, type Weights } from '../../src/model/weights.ts';
import { assertClose, cand, context, tableEvaluator, values, vec } from './fixtures.ts';

test('distance prioritizer: quotas 4 + 5 + 2 for N = 10, a = 0.4', () => {
  assert.deepEqual(thirdQuotas(10, 0.4), [4, 5, 2]);
  assert.deepEqual(thirdSizes(30), [10, 10, 10]);
  assert.deepEqual(thirdSizes(11), [4, 4, 3]);
  assert.deepEqual(takePerThird([10, 10, 10], [4, 5, 2]), [4, 5, 2]);
  // Mid third too small: its unused quota moves outwards to far.
  assert.deepEqual(takePerThird([4, 4, 3], [4, 5, 2]), [4, 4, 3]);
});

test('distance prioritizer: takes the closest within each third', () => {
  const own = vec([0]);
  const cands = Array.from({ length: 30 }, (_, i) => cand(`p${String(i).padStart(2, '0')}`, vec([30 - i])));
  const chosen = bristleDistance()(own, cands, context(), [0]).map((c) => values(c.weights)[0]);
  // Distances 1..30: near third 1..10 -> 1..4, mid 11..20 -> 11..15, far 21..30 -> 21, 22.
  assert.deepEqual(chosen, [1, 2, 3, 4, 11, 12, 13, 14, 15, 21, 22]);
});

test('distance prioritizer: at most N candidates are all kept, ties break by peer id', () => {
  const own = vec([0]);
  const cands = [cand('b', vec([1])), cand('a', vec([-1])), cand('c', vec([5]))];
  const chosen = bristleDistance()(own, cands, context(), [0]);
  assert.deepEqual(
    chosen.map((c) => c.peer),
    ['a', 'b', 'c'],
  );
  assert.deepEqual(
    sortByDistance(own, [...cands].reverse(), [0]).map((c) => c.peer),
    ['a', 'b', 'c'],
  );
});

test('performance integrator: per-class score, certainty and weights by hand', () => {
  assert.ok(Math.abs(classScore(0.7, 0.5) - 2 ** 3.5) < 1e-12);
  assert.ok(Math.abs(classScore(0.3, 0.5) + 2 ** 4.5) < 1e-12);
  assert.equal(classScore(0.5, 0.5), -0);
  assert.equal(scoreToWeight(0), 1);
  assert.ok(Math.abs(scoreToWeight(1e9) - 6) < 1e-12);
  assert.equal(scoreToWeight(-1e9), 0);
  // Population std: mean(0.7, 0.5) = 0.6, std = 0.1.
  assert.ok(Math.abs(certainty(Float64Array.of(0.7, 0.5, 0, 0), [0, 1], 3) - 0.5) < 1e-12);
  // Top-phi: phi = 1 keeps only the best class.
  assert.equal(certainty(Float64Array.of(0.7, 0.5, 0, 0), [0, 1], 1), 0.7);

  const f0 = Float64Array.of(0.5, 0.5, 0, 0);
  const fj = Float64Array.of(0.7, 0.5, 0.9, 0.9);
  const w = bristleWeights(fj, f0, [0, 1], 4, 3, 'familiar-sum');
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const s0 = 2 ** 3.5;
  // meshfl's default: omega from the candidate's best familiar class (foreignPhi 1 -> class 0,
  // F1 0.7, certainty 0.7) and its clamped score there.
  const selected = bristleWeights(fj, f0, [0, 1], 4, 3);
  assert.ok(Math.abs(selected.omega - 0.7 * (10 * sig(s0 / 100) - 4)) < 1e-12);
  assert.ok(Math.abs(selected.perClass[2]! - selected.omega) < 1e-12);
  // foreignPhi 2: both familiar classes, certainty 0.5, mean clamped score s0 / 2.
  const two = bristleWeights(fj, f0, [0, 1], 4, 3, 'selected', 2);
  assert.ok(Math.abs(two.omega - 0.5 * (10 * sig(s0 / 2 / 100) - 4)) < 1e-12);
  // 'certainty': omega is the best-class certainty alone.
  assert.ok(Math.abs(bristleWeights(fj, f0, [0, 1], 4, 3, 'certainty').omega - 0.7) < 1e-12);
  const c = 0.5;
  assert.ok(Math.abs(w.perClass[0]! - c * (10 * sig(s0 / 100) - 4)) < 1e-12);
  assert.ok(Math.abs(w.perClass[1]! - c * 1) < 1e-12);
  const omega = c * (10 * sig((s0 + 0) / 100) - 4);
  assert.ok(Math.abs(w.omega - omega) < 1e-12);
  assert.ok(Math.abs(w.perClass[2]! - omega) < 1e-12);
  assert.ok(Math.abs(w.perClass[3]! - omega) < 1e-12);
});

test('performance integrator: clamped per-class weight vs unclamped foreign sum', () => {
  // Candidate far worse on class 0 (score -(10^4) clamped to -100), better on class 1.
  const f0 = Float64Array.of(1, 0, 0);
  const fj = Float64Array.of(0, 1, 0);
  const w = bristleWeights(fj, f0, [0, 1], 3, 3, 'familiar-sum');
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const c = 0.5 - 0.5; // mean 0.5, std 0.5
  assert.equal(w.certainty, c);
  const fj2 = Float64Array.of(0.2, 0.9, 0);
  const f02 = Float64Array.of(0.9, 0.1, 0);
  const w2 = bristleWeights(fj2, f02, [0, 1], 3, 3, 'familiar-sum');
  const c2 = 0.55 - 0.35;
  const sA = -((10 * 0.7) ** (4 + 0.9));
  const sB = (10 * 0.8) ** (3 + 0.1);
  assert.ok(Math.abs(w2.perClass[0]! - c2 * Math.max(0, 10 * sig(-100 / 100) - 4)) < 1e-12);
  assert.ok(Math.abs(w2.perClass[1]! - c2 * (10 * sig(sB / 100) - 4)) < 1e-12);
  assert.ok(Math.abs(w2.omega - c2 * Math.max(0, 10 * sig((sA + sB) / 100) - 4)) < 1e-12);
  assert.equal(w2.omega, 0); // the unclamped sum is very negative
});

test('performance integrator + combine: output columns per class, hidden layers by omega', () => {
  const numClasses = 3;
  const own: Weights = [
    layer('hidden', [2], [0, 0]),
    layer('out', [2, 3], [0, 0, 0, 0, 0, 0]),
    layer('bias', [3], [0, 0, 0]),
  ];
  const other: Weights = [
    layer('hidden', [2], [1, 1]),
    layer('out', [2, 3], [1, 1, 1, 1, 1, 1]),
    layer('bias', [3], [1, 1, 1]),
  ];
  const f0 = [0.5, 0.5, 0];
  const fj = [0.7, 0.5, 0];
  const ctx = context({
    numClasses,
    familiarClasses: [0, 1],
    outputLayer: { kernel: 'out', bias: 'bias' },
    evaluate: tableEvaluator(
      new Map([
        [own, f0],
        [other, fj],
      ]),
      numClasses,
    ),
  });
  const integrator = bristlePerformance();
  const weighting = integrator(own, [cand('a', other)], ctx, [0, 1, 2]);
  const w = bristleWeights(Float64Array.from(fj), Float64Array.from(f0), [0, 1], 3, 3);
  const merged = combine(own, weighting);
  const col = Array.from(w.perClass, (x) => x / (1 + x));
  assertClose(values(merged, 0), [w.omega / (1 + w.omega), w.omega / (1 + w.omega)]);
  assertClose(values(merged, 1), [...col, ...col]);
  assertClose(values(merged, 2), col);
  // The composed strategy gives the same (no L-DAWA).
  assertClose(values(bristleStrategy()(own, [cand('a', other)], ctx), 1), [...col, ...col]);
});

test('performance integrator: missing output layer or wrong class count is a clear error', () => {
  const ctx = context({ outputLayer: { kernel: 'nope' } });
  assert.throws(() => bristleStrategy()(vec([0, 0]), [cand('a', vec([1, 1]))], ctx), /output layer "nope"/);
  const ctx3 = context({ numClasses: 3 });
  assert.throws(() => bristleStrategy()(vec([0, 0]), [cand('a', vec([1, 1]))], ctx3), /expected 3 classes/);
});

test('L-DAWA: cosine factor clipped to [0, 1], zero norm -> 1', () => {
  assert.equal(ldawaFactor(Float32Array.of(1, 0), Float32Array.of(1, 0)), 1);
  assert.ok(Math.abs(ldawaFactor(Float32Array.of(1, 1), Float32Array.of(1, 0)) - Math.SQRT1_2) < 1e-7);
  assert.equal(ldawaFactor(Float32Array.of(-1, 0), Float32Array.of(1, 0)), 0);
  assert.equal(ldawaFactor(Float32Array.of(0, 0), Float32Array.of(1, 0)), 1);
  assert.equal(ldawaFactor(Float32Array.of(2, 3), Float32Array.of(0, 0)), 1);
});

test('L-DAWA: scales integrator weights layer-wise, normalised with own weight 1', () => {
  const own: Weights = [layer('a', [2], [1, 0]), layer('b', [2], [1, 0])];
  const other: Weights = [layer('a', [2], [1, 1]), layer('b', [2], [-1, 0])];
  const ctx = context({ round: 5 });
  const weighting = ldawa()(
    own,
    uniformWeighting([cand('x', other)], [0, 1], () => 1),
    ctx,
  );
  const merged = combine(own, weighting);
  const d = Math.SQRT1_2; // cos((1,1),(1,0)); layer b cos = -1 -> 0
  assertClose(values(merged, 0), [(1 + d) / (1 + d), d / (1 + d)]);
  assertClose(values(merged, 1), [1, 0]);
  assertClose(values(ldawaStrategy()(own, [cand('x', other)], ctx), 0), [(1 + d) / (1 + d), d / (1 + d)]);
  // Warm-up rounds: plain average.
  const warm = ldawaStrategy({ warmupRounds: 2 })(own, [cand('x', other)], context({ round: 1 }));
  assertClose(values(warm, 1), [0, 0]);
});

test('bristle+ldawa with a cost cap N: report lists shares and prioritizer rejections', () => {
  const own = vec([0.5, 0.5]);
  const cands = Array.from({ length: 12 }, (_, i) => cand(`p${String(i).padStart(2, '0')}`, vec([0.5 + i, 0.5])));
  const ctx = context({ familiarClasses: [0, 1], evaluate: tableEvaluator(new Map(), 2) });
  const { report } = mergeWithReport(bristleLdawaStrategy({ N: 10 }), own, cands, ctx);
  assert.equal(report?.strategy, 'bristle+ldawa');
  // 12 candidates in thirds of 4: quotas 4 + 5 + 2, mid holds only 4, its spare goes to far: 4 + 4 + 3.
  assert.equal(report?.used.length, 11);
  assert.deepEqual(
    report?.rejected.map((r) => [r.peer, r.reason]),
    [['p11', 'not-prioritized']],
  );
  const total = (report?.ownShare ?? 0) + (report?.used ?? []).reduce((s, u) => s + u.share, 0);
  assertClose([total], [1]);
});

test('performance integrator: a candidate is scored with own frozen layers under its merged ones', () => {
  const own: Weights = [layer('frozen', [1], [0]), layer('w', [2], [0, 0])];
  const sly: Weights = [layer('frozen', [1], [99]), layer('w', [2], [1, 1])];
  const seen: number[] = [];
  const ctx = context({
    familiarClasses: [0, 1],
    trainableLayers: new Set(['w']),
    evaluate: (w) => {
      seen.push(w[0]!.values[0]!);
      return { f1: Float64Array.of(0.5, 0.5), accuracy: Float64Array.of(0.5, 0.5), overallAccuracy: 0.5, loss: 0 };
    },
  });
  bristleStrategy()(own, [cand('a', sly)], ctx);
  assert.deepEqual(seen, [0, 0]);
});
