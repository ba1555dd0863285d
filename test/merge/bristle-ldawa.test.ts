/**
 * The default merge (bristle+ldawa, merge v2): each stage on small vectors with an
 * evaluator whose loss is the squared distance to a target model, so "helps on V" has an
 * exact meaning, plus properties over random inputs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type BristleLdawaOptions, bristleLdawaStrategy } from '../../src/merge/bristle-ldawa.ts';
import { harmfulOutliers, RECENT_SCORES, RecentScores, TrustMemory } from '../../src/merge/influence.ts';
import { applyMix, averageCoefficients, LeaveOutMixer } from '../../src/merge/mix.ts';
import { OptionError } from '../../src/merge/options.ts';
import { mergeWithReport } from '../../src/merge/report.ts';
import type { ClassScores, MergeContext } from '../../src/merge/types.ts';
import { updateCosines, updateFactors } from '../../src/merge/update-direction.ts';
import type { Weights } from '../../src/model/weights.ts';
import { assertClose, cand, context, values, vec } from './fixtures.ts';

/** Every stage off but near-copy rejection (the default 'reject'). */
const OFF_BUT_COPIES = { rho: 0, gate: 0, far: 0, kappa: 0, ldawa: 'off', passes: 0, sampleCap: 0 } as const;
const OFF = { ...OFF_BUT_COPIES, copies: 'one' } as const;

/** Loss = squared distance to `target` (+1); F1 of class c = exp(-|w_c - target_c|). */
function distanceEvaluator(target: readonly number[]) {
  return (w: Weights): ClassScores => {
    const v = w[0].values;
    const f1 = Float64Array.from(target, (t, c) => Math.exp(-Math.abs(v[c] - t)));
    let loss = 1;
    target.forEach((t, c) => {
      loss += (v[c] - t) ** 2;
    });
    return { f1, accuracy: f1, overallAccuracy: 0, loss };
  };
}

function ctxFor(target: readonly number[], overrides: Partial<MergeContext> = {}): MergeContext {
  return context({
    evaluate: distanceEvaluator(target),
    familiarClasses: target.map((_, c) => c),
    numClasses: target.length,
    ...overrides,
  });
}

function norm(a: readonly number[], b: readonly number[]): number {
  return Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0));
}

test('with every stage off, bristle+ldawa is the plain average of own and the candidates', () => {
  const merge = bristleLdawaStrategy(OFF);
  const out = merge(vec([0, 0]), [cand('a', vec([3, 0])), cand('b', vec([0, 6]))], context());
  assertClose(values(out), [1, 2]);
});

test('identical copies count as one voter (colluder groups)', () => {
  const merge = bristleLdawaStrategy({ ...OFF, rho: 0.1 });
  const honest = [cand('a', vec([2, 0])), cand('b', vec([0, 2])), cand('c', vec([2, 2]))];
  const copy = vec([-4, -4]);
  const one = merge(vec([0, 0]), [...honest, cand('x1', copy)], context());
  const five = merge(vec([0, 0]), [...honest, ...[1, 2, 3, 4, 5].map((k) => cand(`x${k}`, copy))], context());
  assertClose(values(five), values(one), 1e-6);
});

test('copies reject: a group of near-copies is rejected as copies, singletons are kept', () => {
  const merge = bristleLdawaStrategy({ ...OFF, rho: 0.1, copies: 'reject' });
  const honest = [cand('a', vec([2, 0])), cand('b', vec([0, 2])), cand('c', vec([2, 2]))];
  // Copies differing by quantisation-sized noise still fall within copyRho x their distance to own.
  const copies = [cand('x1', vec([-4, -4])), cand('x2', vec([-4.01, -4])), cand('x3', vec([-4, -3.99]))];
  const { weights: merged, report } = mergeWithReport(merge, vec([0, 0]), [...honest, ...copies], context());
  assert.ok(report);
  assert.deepEqual(
    report.rejected.map((r) => [r.peer, r.reason]),
    copies.map((c) => [c.peer, 'copies']),
  );
  assert.deepEqual(
    report.used.map((u) => u.peer),
    ['a', 'b', 'c'],
  );
  assertClose(values(merged), [1, 1]);
  // The default rejects them all-to-all and with D neighbours alike.
  const byDefault = bristleLdawaStrategy({ ...OFF_BUT_COPIES, rho: 0.1 });
  for (const ctx of [context(), context({ neighbours: 8 })]) {
    assert.deepEqual(
      mergeWithReport(byDefault, vec([0, 0]), [...honest, ...copies], ctx).report?.rejected.map((r) => r.reason),
      ['copies', 'copies', 'copies'],
    );
  }
  // 'auto': reject with D neighbours; all-to-all the copies count as one voter.
  const auto = bristleLdawaStrategy({ ...OFF, rho: 0.1, copies: 'auto' });
  const all = mergeWithReport(auto, vec([0, 0]), [...honest, ...copies], context());
  assert.equal(all.report?.rejected.length, 0);
  assert.equal(all.report?.used.length, 6);
  const d8 = mergeWithReport(auto, vec([0, 0]), [...honest, ...copies], context({ neighbours: 8 }));
  assert.deepEqual(
    d8.report?.rejected.map((r) => r.reason),
    ['copies', 'copies', 'copies'],
  );
  // Within rho (one voter) but not within copyRho: similar, not copies; merged as one voter.
  const similar = [cand('y1', vec([-4, -4])), cand('y2', vec([-4.2, -4]))];
  const near = mergeWithReport(byDefault, vec([0, 0]), [...honest, ...similar], context({ neighbours: 8 }));
  assert.equal(near.report?.rejected.length, 0);
  const shares = new Map(near.report?.used.map((u) => [u.peer, u.share]));
  assertClose([(shares.get('y1') ?? 0) * 2], [shares.get('a') ?? 0], 1e-6);
});

test('copies: far scaled models cannot make honest models near own look like copies; a majority is never rejected', () => {
  const merge = bristleLdawaStrategy({ ...OFF, rho: 0.1 });
  const ctx = context({ neighbours: 8 });
  // Two honest models 1 apart near own, three scaled ones 1e3 away (distinct, not copies):
  // a radius from the median distance (1e3) would join the honest pair.
  const honest = [cand('h1', vec([1, 0])), cand('h2', vec([1, 1]))];
  const scaled = [cand('s1', vec([1e3, 0])), cand('s2', vec([0, 1e3])), cand('s3', vec([-1e3, 0]))];
  const { report } = mergeWithReport(merge, vec([0, 0]), [...honest, ...scaled], ctx);
  assert.equal(report?.rejected.filter((r) => r.reason === 'copies').length, 0);
  // Every candidate a near-copy of the others, far from own (own's model was ruined): kept.
  const cluster = [1, 2, 3].map((k) => cand(`c${k}`, vec([1e3 + k * 1e-3, 1e3])));
  const ruined = mergeWithReport(merge, vec([0, 0]), cluster, ctx);
  assert.equal(ruined.report?.rejected.length, 0);
  assert.equal(ruined.report?.used.length, 3);
});

/**
 * Distinct integer points in [-5, 5]^2 (at least 1 apart; the first is the copies' model,
 * the rest honest) and a number of copies. The grouping radius (0.1 x a median distance
 * <= 7.1) and the near-copy radius (0.03 x a distance to own) stay below 1, so only the
 * copies group.
 */
const COPY_SCENES = fc.tuple(
  fc.uniqueArray(fc.tuple(fc.integer({ min: -5, max: 5 }), fc.integer({ min: -5, max: 5 })), {
    minLength: 3,
    maxLength: 7,
    selector: (p) => `${p[0]},${p[1]}`,
  }),
  fc.integer({ min: 2, max: 6 }),
);

/** The scene's own model, honest candidates and k copies. */
function copyScene([points, k]: [[number, number][], number]) {
  const [x, ...hs] = points as [[number, number], ...[number, number][]];
  return {
    own: vec([0.25, 0.5]),
    honest: hs.map((h, i) => cand(`h${i}`, vec(h))),
    copies: Array.from({ length: k }, (_, i) => cand(`x${i}`, vec(x))),
  };
}

test('property: k identical copies have exactly one copy’s influence', () => {
  const merge = bristleLdawaStrategy({ ...OFF, rho: 0.1 });
  fc.assert(
    fc.property(COPY_SCENES, (scene) => {
      const { own, honest, copies } = copyScene(scene);
      const one = merge(own, [...honest, copies[0]], context());
      assertClose(values(merge(own, [...honest, ...copies], context())), values(one), 1e-5);
    }),
    { seed: 13, numRuns: 200 },
  );
});

test('property: k identical copies that are not a majority have no influence (copies reject, the default)', () => {
  const merge = bristleLdawaStrategy(OFF_BUT_COPIES);
  fc.assert(
    fc.property(COPY_SCENES, (scene) => {
      const { own, honest, copies } = copyScene(scene);
      fc.pre(copies.length <= honest.length);
      assertClose(values(merge(own, [...honest, ...copies], context())), values(merge(own, honest, context())), 1e-6);
    }),
    { seed: 13, numRuns: 200 },
  );
});

test('property: clipping bounds the displacement of the merge to kappa x the median distance', () => {
  const kappa = 2;
  const merge = bristleLdawaStrategy({ ...OFF, kappa });
  const v = fc.float({ min: -5, max: 5, noNaN: true });
  const huge = fc.constantFrom(1e4, -1e6, 3e30, -3e38);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(v, v), { minLength: 1, maxLength: 8 }),
      fc.array(fc.tuple(huge, v), { maxLength: 3 }),
      (hs, bad) => {
        const own = [0.5, -0.5];
        const all = [...hs, ...bad];
        const out = values(
          merge(
            vec(own),
            all.map((p, i) => cand(`c${i}`, vec(p))),
            context(),
          ),
        );
        const distances = all.map((p) => norm(p, own)).sort((a, b) => a - b);
        const mid = distances.length >> 1;
        const m = distances.length % 2 ? distances[mid] : (distances[mid - 1] + distances[mid]) / 2;
        assert.ok(out.every(Number.isFinite), `non-finite merge ${out}`);
        assert.ok(norm(out, own) <= kappa * m * (1 + 1e-5) + 1e-6, `moved ${norm(out, own)} > ${kappa} x ${m}`);
      },
    ),
    { seed: 7, numRuns: 300 },
  );
});

test('certainty gate rejects a candidate that is sure of nothing on V', () => {
  const merge = bristleLdawaStrategy({ ...OFF, gate: 0.5 });
  const target = [1, 1, 1];
  const { report } = mergeWithReport(
    merge,
    vec([1, 1, 0.8]),
    [cand('good', vec([1, 0.9, 1])), cand('lost', vec([9, -9, 9]))],
    ctxFor(target),
  );
  assert.deepEqual(
    report?.rejected.map((r) => [r.peer, r.reason]),
    [['lost', 'uncertain']],
  );
  assert.deepEqual(
    report?.used.map((u) => u.peer),
    ['good'],
  );
});

test('leave-group-out rejects the group that raises the validation loss, keeps the honest ones', () => {
  const merge = bristleLdawaStrategy({ ...OFF, passes: 3 });
  const target = [1, 1];
  const honest = [
    cand('a', vec([1.2, 0.8])),
    cand('b', vec([0.8, 1.3])),
    cand('c', vec([1.1, 1.1])),
    cand('d', vec([0.9, 0.7])),
  ];
  const { weights, report } = mergeWithReport(
    merge,
    vec([1, 1.1]),
    [...honest, cand('evil', vec([-3, -3]))],
    ctxFor(target),
  );
  assert.deepEqual(
    report?.rejected.map((r) => [r.peer, r.reason]),
    [['evil', 'harmful']],
  );
  assert.equal(report?.used.length, 4);
  assert.ok(norm(values(weights), target) < 0.2);
});

test('trust memory: a sender with a good record survives one bad round that alone would reject it', () => {
  const target = [1, 1];
  const honest = ['a', 'b', 'c', 'd'].map((p, i) => cand(p, vec([1 + 0.1 * (i - 1.5), 1 - 0.1 * (i - 1.5)])));
  const rejectedInLastRound = (memory: 'on' | 'off'): boolean => {
    const merge = bristleLdawaStrategy({ ...OFF, passes: 1, memory });
    let rejected = false;
    for (let round = 0; round < 6; round++) {
      // A specialist that helps for five rounds, then sends one poor model.
      const spec = cand('spec', vec(round < 5 ? [1, 1] : [-0.2, -0.2]));
      const { report } = mergeWithReport(merge, vec([0.6, 0.6]), [...honest, spec], ctxFor(target, { round }));
      rejected = report?.rejected.some((r) => r.peer === 'spec') ?? false;
    }
    return rejected;
  };
  assert.equal(rejectedInLastRound('off'), true, 'one round alone rejects it');
  assert.equal(rejectedInLastRound('on'), false, 'its record keeps it');
});

test('distrust: a sender that hurts a little every round is rejected once its record is long enough', () => {
  const target = [1, 1];
  // Honest candidates spread around the target (some help a lot, some little), and one
  // sender a little off: no outlier in any single round, harmful on average.
  const honest = [
    cand('a', vec([1.6, 0.9])),
    cand('b', vec([0.9, 1.5])),
    cand('c', vec([1.2, 1.3])),
    cand('d', vec([0.7, 0.8])),
  ];
  const rejectedPerRound = (distrust: number, distrustScale = 0): boolean[] => {
    const merge = bristleLdawaStrategy({ ...OFF, passes: 1, distrust, distrustScale, history: 2 });
    return [0, 1, 2, 3, 4].map((round) => {
      const { report } = mergeWithReport(
        merge,
        vec([0.6, 0.6]),
        [...honest, cand('drift', vec([0.35, 0.45]))],
        ctxFor(target, { round }),
      );
      return report?.rejected.some((r) => r.peer === 'drift') ?? false;
    });
  };
  assert.deepEqual(rejectedPerRound(0), [false, false, false, false, false], 'never an outlier alone');
  assert.deepEqual(rejectedPerRound(0.01), [false, false, true, true, true], 'rejected after two scored rounds');
  assert.deepEqual(rejectedPerRound(0.01, 0.5), [false, false, true, true, true], 'clearly below the scaled bar too');
  assert.deepEqual(
    rejectedPerRound(0.01, 50),
    [false, false, false, false, false],
    'the bar scales with the median |score|: small against the spread, kept',
  );
});

test('TrustMemory.longRun: the median with this round over the recent scores, only after minHistory rounds', () => {
  const t = new TrustMemory();
  assert.equal(t.longRun('a', -1, 1), undefined);
  assert.equal(t.longRun('a', -1, 0), -1);
  t.record('a', 1);
  t.record('a', -4);
  assert.equal(t.longRun('a', 0, 3), undefined);
  assert.equal(t.longRun('a', 0.5, 2), 0.5);
  for (let i = 0; i < RECENT_SCORES; i++) t.record('a', -1);
  assert.equal(t.longRun('a', 9, 2), -1, 'only the recent scores count');
});

test('harmfulOutliers: absolute and relative thresholds must both hold', () => {
  assert.deepEqual(harmfulOutliers([0.01, 0.02, 0.015, -0.5], 0.02, 2), [3]);
  assert.deepEqual(harmfulOutliers([-0.03, -0.03, -0.03, -0.03], 0.02, 2), [], 'all alike: none is an outlier');
  assert.deepEqual(harmfulOutliers([0.01, 0.02, -0.01], 0.02, 2), [], 'not harmful enough');
});

test('TrustMemory blends the current score with past ones and forgets the oldest beyond capacity', () => {
  const t = new TrustMemory(2);
  assert.equal(t.blended('a', -1), -1);
  t.record('a', 1);
  t.record('a', 3);
  assert.equal(t.blended('a', -1), 1);
  t.record('b', 0);
  t.record('c', 0);
  assert.equal(t.size, 2);
  assert.equal(t.average('a'), undefined);
  t.record('x', Number.NaN);
  assert.equal(t.average('x'), undefined);
});

test('L-DAWA on updates: a negated update gets 0, an aligned one 1, with direction own', () => {
  const own: Weights = vec([1, 1]);
  const ref: Weights = vec([0, 0]);
  const factors = updateFactors(own, [vec([2, 2]), vec([-1, -1])], [0], [ref[0].values], [1, 1], [true, true], 'own');
  assert.equal(factors[0]?.[0], 1);
  assert.equal(factors[1]?.[0], 0);
});

test('update cosines: per layer and whole model, unclamped, against the consensus of own and the candidates', () => {
  const own: Weights = vec([1, 1]);
  const ref: Weights = vec([0, 0]);
  // Updates (2, 2), (1, 0) and the flipped (-1, -1); consensus D = (1 + 2 + 1 - 1, 1 + 2 + 0 - 1) / 4.
  const models = [vec([2, 2]), vec([1, 0]), vec([-1, -1])];
  const { perLayer, model } = updateCosines(
    own,
    models,
    [0],
    [ref[0].values],
    [1, 1, 1],
    [true, true, true],
    'consensus',
  );
  const d = [3 / 4, 2 / 4];
  const cos = (u: number[]): number => (u[0] * d[0] + u[1] * d[1]) / Math.hypot(...u) / Math.hypot(...d);
  assertClose([perLayer[0][0], perLayer[1][0], perLayer[2][0]], [cos([2, 2]), cos([1, 0]), cos([-1, -1])], 1e-9);
  assertClose(Array.from(model), [cos([2, 2]), cos([1, 0]), cos([-1, -1])], 1e-9);
  assert.ok(perLayer[2][0] < -0.9);
});

test('against: a sender without a good record whose update points against the others is rejected as opposed', () => {
  const own: Weights = vec([1, 1]);
  const reference: Weights = vec([0, 0]);
  const offered = [cand('a', vec([1.2, 0.8])), cand('b', vec([0.8, 1.2])), cand('flip', vec([-1, -1]))];
  const ctx = context({ reference });
  const off = mergeWithReport(bristleLdawaStrategy(OFF), own, offered, ctx).report;
  assert.deepEqual(off?.rejected, []);
  const on = mergeWithReport(bristleLdawaStrategy({ ...OFF, against: 'reject' }), own, offered, ctx);
  assert.deepEqual(
    on.report?.rejected.map((r) => [r.peer, r.reason]),
    [['flip', 'opposed']],
  );
  assertClose(values(on.weights), [1, 1], 1e-6);
  // Without a reference (no updates to compare) the stage is skipped.
  const noRef = mergeWithReport(bristleLdawaStrategy({ ...OFF, against: 'reject' }), own, offered, context());
  assert.deepEqual(noRef.report?.rejected, []);
});

test('the paper’s integrator options are refused with a pointer to strategy bristle', () => {
  assert.throws(
    () => bristleLdawaStrategy({ foreignScore: 'selected' } as never),
    (e: unknown) => {
      return e instanceof OptionError && /strategy 'bristle'/.test(e.message);
    },
  );
  assert.throws(() => bristleLdawaStrategy({ rho: -1 }), OptionError);
  // Old options that kept their meaning still parse: N is now the cost cap.
  bristleLdawaStrategy({ N: 10, a: 0.4, phi: 3, warmupRounds: 0 });
});

test('cost cap: with more candidates than N, only about N are evaluated', () => {
  const merge = bristleLdawaStrategy({ ...OFF, N: 3 });
  const many = Array.from({ length: 9 }, (_, i) => cand(`p${i}`, vec([i, -i])));
  const { report } = mergeWithReport(merge, vec([0, 0]), many, context());
  const used = report?.used.length ?? 0;
  assert.ok(used >= 2 && used <= 3, `kept ${used}`);
  assert.equal(report?.rejected.filter((r) => r.reason === 'not-prioritized').length, 9 - used);
});

test('distance gate: a candidate far beyond the others is rejected as too-far', () => {
  const merge = bristleLdawaStrategy({ ...OFF, far: 4 });
  const near = ['a', 'b', 'c'].map((p, i) => cand(p, vec([i, 1])));
  const { report } = mergeWithReport(merge, vec([0, 0]), [...near, cand('far', vec([40, 40]))], context());
  assert.deepEqual(
    report?.rejected.map((r) => [r.peer, r.reason]),
    [['far', 'too-far']],
  );
});

test('distance gate: blown-up copies the certainty gate rejected do not widen the radius for one it kept', () => {
  // The 4th coordinate is outside V's classes: a copy blown up only there is certain on V.
  const target = [1, 1, 1];
  const good = [cand('a', vec([1, 0.9, 1, 0])), cand('b', vec([0.9, 1, 1, 0]))];
  const lost = [1, 2, 3].map((k) => cand(`lost${k}`, vec([50 * k, -50, 50, 500 + k])));
  const sure = cand('x', vec([1, 1, 1, 500]));
  const verdicts = (distanceOver: 'gated' | 'all') =>
    mergeWithReport(
      bristleLdawaStrategy({ ...OFF, gate: 0.5, far: 4, distanceOver }),
      vec([1, 1, 0.8, 0]),
      [...good, ...lost, sure],
      ctxFor(target),
    ).report?.rejected.map((r) => [r.peer, r.reason]);
  assert.deepEqual(verdicts('gated'), [
    ['lost1', 'uncertain'],
    ['lost2', 'uncertain'],
    ['lost3', 'uncertain'],
    ['x', 'too-far'],
  ]);
  assert.deepEqual(verdicts('all'), [
    ['lost1', 'uncertain'],
    ['lost2', 'uncertain'],
    ['lost3', 'uncertain'],
  ]);
});

test('sample counts weigh relative to the median count, at most sampleCap x', () => {
  const merge = bristleLdawaStrategy({ ...OFF, sampleCap: 2 });
  const own = vec([0, 0]);
  // Median count of own (10) and candidates (10, 10, 1e9) is 10: the liar weighs 2, not 1e8.
  const out = merge(
    own,
    [cand('a', vec([1, 0]), 10), cand('b', vec([0, 1]), 10), cand('liar', vec([5, 5]), 1e9)],
    context({ ownSamples: 10 }),
  );
  assertClose(values(out), [(1 + 10) / 5, (1 + 10) / 5]);
});

test('property: leave-out mixes equal the direct average without the group', () => {
  const v = fc.float({ min: -5, max: 5, noNaN: true });
  fc.assert(
    fc.property(
      fc.array(fc.tuple(v, v, fc.float({ min: Math.fround(0.1), max: 2, noNaN: true })), {
        minLength: 2,
        maxLength: 6,
      }),
      fc.float({ min: Math.fround(0.2), max: 3, noNaN: true }),
      (cs, ownWeight) => {
        const own = vec([0.3, -0.2]);
        const models = cs.map(([a, b]) => vec([a, b]));
        const weights = cs.map(([, , w]) => Float64Array.of(w));
        const clip = cs.map((_, j) => (j % 2 === 0 ? 1 : 0.5));
        const active = cs.map(() => true);
        const mixer = new LeaveOutMixer(own, models, [0], weights, clip, active, ownWeight);
        assertClose(
          values(mixer.full()),
          values(applyMix(own, models, [0], averageCoefficients(weights, clip, active, 1, ownWeight))),
          1e-4,
        );
        const group = [0, cs.length - 1];
        const without = active.map((_, j) => !group.includes(j));
        assertClose(
          values(mixer.without(group)),
          values(applyMix(own, models, [0], averageCoefficients(weights, clip, without, 1, ownWeight))),
          1e-4,
        );
      },
    ),
    { seed: 5, numRuns: 200 },
  );
});

test('sampleTrust record: a claimed count buys one vote until the sender has a good record', () => {
  const target = [1, 1];
  // Every candidate helps (own is far from the target), so each gains a positive record.
  const shareOfBig = (sampleTrust: 'record' | 'claim'): number[] => {
    const merge = bristleLdawaStrategy({ ...OFF, passes: 1, sampleCap: 4, sampleTrust, history: 2 });
    return [0, 1, 2, 3].map((round) => {
      const { report } = mergeWithReport(
        merge,
        vec([0, 0]),
        [cand('a', vec([1, 0.9]), 10), cand('b', vec([0.9, 1]), 10), cand('big', vec([1, 1.1]), 1e9)],
        ctxFor(target, { round, ownSamples: 10 }),
      );
      return report?.used.find((u) => u.peer === 'big')?.share ?? 0;
    });
  };
  // Weights: own 1, a 1, b 1, big 1 (no record) or 4 (cap).
  const claim = shareOfBig('claim');
  for (const s of claim) assert.ok(Math.abs(s - 4 / 7) < 1e-9, `claim: ${s}`);
  const record = shareOfBig('record');
  assert.ok(Math.abs(record[0] - 1 / 4) < 1e-9, `round 0: ${record[0]}`);
  assert.ok(Math.abs(record[1] - 1 / 4) < 1e-9, 'one recorded round is not a record');
  assert.ok(Math.abs(record[2] - 4 / 7) < 1e-9, `round 2: ${record[2]}`);
  assert.ok(Math.abs(record[3] - 4 / 7) < 1e-9);
});

test('TrustMemory.trusted: at least minHistory (and one) recorded scores with a positive median', () => {
  const t = new TrustMemory();
  assert.equal(t.trusted('a', 0), false, 'never scored');
  t.record('a', 0.1);
  assert.equal(t.trusted('a', 0), true);
  assert.equal(t.trusted('a', 2), false);
  t.record('a', -0.3);
  assert.equal(t.trusted('a', 2), false, 'median 0 is not good');
  t.record('a', 0.2);
  assert.equal(t.trusted('a', 2), true);
  t.record('a', -0.1);
  t.record('a', -0.1);
  assert.equal(t.trusted('a', 2), false);
});

test('gateReference trusted: the gate compares with own and the senders with a good record', () => {
  const target = [1, 1, 1];
  // Distinct models (exact copies would form one colluder group even with rho 0).
  const honest = ['a', 'b', 'c'].map((p, i) => cand(p, vec([1, 1, 1 + 0.01 * i])));
  // Certainty (phi 2): honest ~1, own exp(-1) = 0.37, mid exp(-0.9) = 0.41, lost ~exp(-2) = 0.14.
  const mid = cand('mid', vec([1.9, 1.9, 1.9]));
  const lost = [1, 2, 3, 4].map((k) => cand(`x${k}`, vec([3, 3, 3 + 0.01 * k])));
  const midReason = (
    gateReference: 'median' | 'trusted' | 'not-distrusted',
    gateBand: 'reject' | 'prove' = 'reject',
  ): string | undefined => {
    const merge = bristleLdawaStrategy({ ...OFF, gate: 0.5, passes: 1, history: 2, gateReference, gateBand });
    let reason: string | undefined;
    for (let round = 0; round < 4; round++) {
      // Three rounds of honest senders alone build their records; then half the senders are lost.
      const offered = round < 3 ? honest : [...honest, mid, ...lost];
      const { report } = mergeWithReport(merge, vec([0, 0, 0]), offered, ctxFor(target, { round }));
      reason = report?.rejected.find((r) => r.peer === 'mid')?.reason;
      if (round === 3) assert.deepEqual(report?.rejected.filter((r) => r.peer.startsWith('x')).length, 4);
    }
    return reason;
  };
  // Median of all (own, 3 honest, mid, 4 lost) = own's 0.37: mid passes half of it.
  assert.equal(midReason('median'), undefined);
  // Median of own and the trusted (0.37, 1, 1, 1) = 1: mid is below half of it.
  assert.equal(midReason('trusted'), 'uncertain');
  // The lost senders are new, not distrusted: the median over own and them is the one over all.
  assert.equal(midReason('not-distrusted'), undefined);
  // gateBand prove: between the two gates and without a record, mid is a suspect; it lowers
  // the loss more than the typical trusted sender (own is far from the target), so it is kept.
  assert.equal(midReason('trusted', 'prove'), undefined);
});

test('TrustMemory.distrusted: at least minHistory (and one) recorded scores with a negative median', () => {
  const t = new TrustMemory();
  assert.equal(t.distrusted('a', 0), false, 'never scored');
  t.record('a', -0.1);
  assert.equal(t.distrusted('a', 1), true);
  assert.equal(t.distrusted('a', 2), false);
  t.record('a', 0.1);
  assert.equal(t.distrusted('a', 2), false, 'median 0 is not poor');
  t.record('a', -0.2);
  assert.equal(t.distrusted('a', 2), true);
});

test('proveBelow: above the gate but below proveBelow x the reference, a sender without a record must prove itself', () => {
  const target = [1, 1, 1];
  const honest = ['a', 'b', 'c'].map((p, i) => cand(p, vec([1, 1, 1 + 0.01 * i])));
  // Certainty 0.82 against a reference of 1; a little harmful, not enough to be rejected as harmful.
  const mid = cand('mid', vec([1.2, 1.2, 1.2]));
  const midReason = (proveBelow: number): string | undefined => {
    const merge = bristleLdawaStrategy({ ...OFF, gate: 0.3, passes: 1, proveBelow });
    const { report } = mergeWithReport(merge, vec([1, 1, 1]), [...honest, mid], ctxFor(target, { round: 0 }));
    return report?.rejected.find((r) => r.peer === 'mid')?.reason;
  };
  assert.equal(midReason(0), undefined);
  assert.equal(midReason(0.8), undefined, 'above proveBelow x the reference');
  assert.equal(midReason(0.95), 'uncertain');
});

test('gateRecord prove: a sender with a good record that falls below the gate is kept if it helps', () => {
  const target = [1, 1, 1];
  const honest = ['a', 'b', 'c'].map((p, i) => cand(p, vec([1, 1, 1 + 0.01 * i])));
  const specReason = (gateRecord: 'prove' | 'reject', last: readonly number[]): string | undefined => {
    // worse off: the stage under test alone (with it, the last case is rejected as harmful).
    const merge = bristleLdawaStrategy({ ...OFF, gate: 0.3, passes: 1, history: 2, gateRecord, worse: 'off' });
    let reason: string | undefined;
    for (let round = 0; round < 4; round++) {
      // Three rounds as good as the others build its record; in the last its certainty
      // (phi 2) is exp(-1.5) = 0.22, below 0.3 x the trusted median of 1.
      const spec = cand('spec', vec(round < 3 ? [1, 1, 1.05] : last));
      const { report } = mergeWithReport(merge, vec([0, 0, 0]), [...honest, spec], ctxFor(target, { round }));
      reason = report?.rejected.find((r) => r.peer === 'spec')?.reason;
    }
    return reason;
  };
  // Own is far from the target, so the last model still lowers the loss a lot: kept.
  assert.equal(specReason('reject', [2.5, 2.5, 1]), 'uncertain');
  assert.equal(specReason('prove', [2.5, 2.5, 1]), undefined);
  // Below the gate and harmful: a suspect that does not prove itself.
  assert.equal(specReason('prove', [2.5, -1.5, 1]), 'uncertain');
});

test('score add and min: a group hidden by its mirror image in the full mix is seen against the trusted base', () => {
  // Two senders whose errors cancel: in the full mix leaving one out hurts (its mirror stays),
  // added alone to the trusted base each one hurts.
  const target = [1, 1];
  const honest = ['a', 'b', 'c'].map((p, i) => cand(p, vec([1, 1 + 0.01 * i])));
  const mirrors = [cand('m1', vec([4, 1])), cand('m2', vec([-2, 1.02]))];
  const rejected = (score: 'leave-out' | 'add' | 'min'): string[] => {
    const merge = bristleLdawaStrategy({ ...OFF, passes: 1, history: 2, score, hard: 0.05 });
    let out: string[] = [];
    for (let round = 0; round < 4; round++) {
      // Three rounds of honest senders alone build their records.
      const offered = round < 3 ? honest : [...honest, ...mirrors];
      const { report } = mergeWithReport(merge, vec([1, 1]), offered, ctxFor(target, { round }));
      out = (report?.rejected ?? []).map((r) => r.peer).sort();
    }
    return out;
  };
  assert.deepEqual(rejected('leave-out'), []);
  assert.deepEqual(rejected('add'), ['m1', 'm2']);
  assert.deepEqual(rejected('min'), ['m1', 'm2']);
});

test('worse: once a sender has a record that does not speak for it, one clearly harmful round is not blended away', () => {
  const target = [1, 1];
  const honest = [
    cand('a', vec([1.6, 0.9])),
    cand('b', vec([0.9, 1.5])),
    cand('c', vec([1.2, 1.3])),
    cand('d', vec([0.7, 0.8])),
  ];
  // Four rounds a little harmful (a poor record, never rejected), then one clearly harmful
  // round: r = -0.07, blended with the record and the neutral prior -0.02, which passes -mu.
  const rejectedPerRound = (options: Partial<BristleLdawaOptions>): boolean[] => {
    const merge = bristleLdawaStrategy({ ...OFF, passes: 1, distrust: 0, history: 2, worseBelow: 0, ...options });
    return [0, 1, 2, 3, 4].map((round) => {
      const sly = cand('sly', vec(round < 4 ? [0.45, 0.5] : [-0.2, -0.2]));
      const { report } = mergeWithReport(merge, vec([0.6, 0.6]), [...honest, sly], ctxFor(target, { round }));
      return report?.rejected.some((r) => r.peer === 'sly') ?? false;
    });
  };
  const last = [false, false, false, false, true];
  assert.deepEqual(rejectedPerRound({ worse: 'off' }), [false, false, false, false, false], 'the blend keeps it');
  assert.deepEqual(rejectedPerRound({ worse: 'poor' }), last);
  assert.deepEqual(rejectedPerRound({ worse: 'unproven' }), last);
  assert.deepEqual(rejectedPerRound({ worse: 'any' }), last);
  // worseBelow: only for candidates whose certainty (here exp(-1.2) = 0.30 in the last
  // round) is below worseBelow x the reference (about 0.7).
  assert.deepEqual(rejectedPerRound({ worse: 'any', gate: 0.1, worseBelow: 0.6 }), last);
  assert.deepEqual(
    rejectedPerRound({ worse: 'any', gate: 0.1, worseBelow: 0.3 }),
    [false, false, false, false, false],
    'certain enough: blended',
  );
  assert.deepEqual(
    rejectedPerRound({ worse: 'any', worseBelow: 0.6 }),
    [false, false, false, false, false],
    'without the gate no candidate has a certainty to be low',
  );
});

test('worse unproven: a sender with a good record keeps its blended score for one bad round', () => {
  const target = [1, 1];
  const honest = ['a', 'b', 'c', 'd'].map((p, i) => cand(p, vec([1 + 0.1 * (i - 1.5), 1 - 0.1 * (i - 1.5)])));
  const rejectedInLastRound = (worse: 'unproven' | 'any'): boolean => {
    const merge = bristleLdawaStrategy({ ...OFF, passes: 1, worse, worseBelow: 0 });
    let rejected = false;
    for (let round = 0; round < 6; round++) {
      const spec = cand('spec', vec(round < 5 ? [1, 1] : [-0.2, -0.2]));
      const { report } = mergeWithReport(merge, vec([0.6, 0.6]), [...honest, spec], ctxFor(target, { round }));
      rejected = report?.rejected.some((r) => r.peer === 'spec') ?? false;
    }
    return rejected;
  };
  assert.equal(rejectedInLastRound('unproven'), false);
  assert.equal(rejectedInLastRound('any'), true);
});

test('TrustMemory.recorded counts the recent scores', () => {
  const t = new TrustMemory();
  assert.equal(t.recorded('a'), 0);
  t.record('a', 1);
  t.record('a', Number.NaN);
  t.record('a', -1);
  assert.equal(t.recorded('a'), 2);
  for (let i = 0; i < RECENT_SCORES + 3; i++) t.record('a', 0);
  assert.equal(t.recorded('a'), RECENT_SCORES);
});

/**
 * V of `priv` private samples of class 0, which read dimension 0, and `pub` public samples
 * of class 1, which read dimension 1: sample loss 1 + (w_d - 1)^2.
 */
function splitContext(priv: number, pub: number, overrides: Partial<MergeContext> = {}): MergeContext {
  const labels = Uint8Array.from({ length: priv + pub }, (_, i) => (i < priv ? 0 : 1));
  return context({
    evaluate: (w: Weights): ClassScores => {
      const v = w[0].values;
      const sampleLoss = Float32Array.from(labels, (d) => 1 + (v[d] - 1) ** 2);
      const f1 = Float64Array.from([0, 1], (c) => Math.exp(-Math.abs(v[c] - 1)));
      const loss = sampleLoss.reduce((s, x) => s + x, 0) / sampleLoss.length;
      return { f1, accuracy: f1, overallAccuracy: 0, loss, sampleLoss };
    },
    familiarClasses: [0, 1],
    numClasses: 2,
    validationSplit: { labels, privateCount: priv },
    ...overrides,
  });
}

test('lossPart private: a sender fitted to the public part of V is judged on the private part', () => {
  // evil is perfect on the public samples and far off on the private ones: on all of V
  // (mostly public) it helps, on the private part it is the one clearly harmful group.
  const honest = [
    cand('a', vec([1.1, 0.9])),
    cand('b', vec([0.9, 1.1])),
    cand('c', vec([1, 0.8])),
    cand('d', vec([1.05, 1.2])),
  ];
  const rejected = (lossPart: 'all' | 'private' | 'worse', ctx: MergeContext) => {
    // Memory off: one round's score unblended (with a neutral prior it would be halved).
    const merge = bristleLdawaStrategy({ ...OFF, passes: 1, lossPart, memory: 'off' });
    const { report } = mergeWithReport(merge, vec([1, 0]), [...honest, cand('evil', vec([0, 1]))], ctx);
    return report?.rejected.map((r) => [r.peer, r.reason]);
  };
  assert.deepEqual(rejected('all', splitContext(2, 18)), []);
  assert.deepEqual(rejected('private', splitContext(2, 18)), [['evil', 'harmful']]);
  assert.deepEqual(rejected('worse', splitContext(2, 18)), [['evil', 'harmful']]);
  // Without a split (or without per-sample losses) every part is all of V.
  assert.deepEqual(rejected('private', splitContext(2, 18, { validationSplit: undefined })), []);
});

test('partTest: a group that is a harmful outlier on the private part is rejected whatever its blended score', () => {
  const honest = [
    cand('a', vec([1.1, 0.9])),
    cand('b', vec([0.9, 1.1])),
    cand('c', vec([1, 0.8])),
    cand('d', vec([1.05, 1.2])),
  ];
  const rejected = (partTest: 'off' | 'private' | 'class') => {
    const merge = bristleLdawaStrategy({ ...OFF, passes: 1, partTest });
    const { report } = mergeWithReport(merge, vec([1, 0]), [...honest, cand('evil', vec([0, 1]))], splitContext(2, 18));
    return report?.rejected.map((r) => [r.peer, r.reason]);
  };
  assert.deepEqual(rejected('off'), []);
  assert.deepEqual(rejected('private'), [['evil', 'harmful']]);
  // One private class here, so its worst class is the private part.
  assert.deepEqual(rejected('class'), [['evil', 'harmful']]);
});

test('spread trusted: harmful groups cannot widen the outlier band they must fall out of', () => {
  // Five honest senders with spread-out scores and three harmful ones: over every group the
  // harmful ones widen the MAD enough to stay inside the band; once the honest senders have
  // a good record, the band is measured over them and the three are rejected.
  const target = [1, 1];
  const honest = [
    cand('a', vec([1.3, 0.9])),
    cand('b', vec([0.8, 1.1])),
    cand('c', vec([1.1, 1.4])),
    cand('d', vec([0.9, 0.6])),
    cand('e', vec([1, 1.05])),
  ];
  const harmful = [cand('x', vec([1.6, 1.5])), cand('y', vec([1.5, 1.6])), cand('z', vec([1.7, 1.6]))];
  const rejectedInRound3 = (
    spread: 'auto' | 'all' | 'trusted' | 'unproven' | 'poor',
    neighbours: number | 'all' | undefined = undefined,
  ) => {
    const merge = bristleLdawaStrategy({ ...OFF, passes: 1, spread });
    let rejected: string[] = [];
    for (let round = 0; round < 4; round++) {
      const ctx = ctxFor(target, { round, ...(neighbours === undefined ? {} : { neighbours }) });
      const { report } = mergeWithReport(merge, vec([1, 1]), [...honest, ...harmful], ctx);
      rejected = report?.rejected.map((r) => r.peer) ?? [];
    }
    return rejected;
  };
  assert.deepEqual(rejectedInRound3('all'), []);
  assert.deepEqual(rejectedInRound3('trusted'), ['x', 'y', 'z']);
  // The second test for the groups without a good record (or with a poor one) only.
  assert.deepEqual(rejectedInRound3('unproven'), ['x', 'y', 'z']);
  assert.deepEqual(rejectedInRound3('poor'), ['x', 'y', 'z']);
  // The default: 'unproven' when the peer merges D neighbours, 'all' otherwise.
  assert.deepEqual(rejectedInRound3('auto', 8), ['x', 'y', 'z']);
  assert.deepEqual(rejectedInRound3('auto', 'all'), []);
  assert.deepEqual(rejectedInRound3('auto'), []);
});

test('spreadPool: the band of the good senders is kept over recent merges, so it exists when one merge holds fewer than 3', () => {
  // As above, then a merge with only two of the honest senders: this merge alone has too
  // few good senders for a band (spread trusted falls back to every group, where the
  // harmful ones are half and stay in); pooled over the last merges it has enough.
  const target = [1, 1];
  const honest = [
    cand('a', vec([1.3, 0.9])),
    cand('b', vec([0.8, 1.1])),
    cand('c', vec([1.1, 1.4])),
    cand('d', vec([0.9, 0.6])),
    cand('e', vec([1, 1.05])),
  ];
  const harmful = [cand('x', vec([1.6, 1.5])), cand('y', vec([1.5, 1.6])), cand('z', vec([1.7, 1.6]))];
  const rejectedWithTwoHonest = (spreadPool: number) => {
    const merge = bristleLdawaStrategy({ ...OFF, passes: 1, spread: 'trusted', spreadPool });
    for (let round = 0; round < 4; round++)
      mergeWithReport(merge, vec([1, 1]), [...honest, ...harmful], ctxFor(target, { round }));
    const few = [honest[0], honest[1], ...harmful];
    const { report } = mergeWithReport(merge, vec([1, 1]), few, ctxFor(target, { round: 4 }));
    return report?.rejected.map((r) => r.peer) ?? [];
  };
  assert.deepEqual(rejectedWithTwoHonest(0), []);
  assert.deepEqual(rejectedWithTwoHonest(4), ['x', 'y', 'z']);
});

test('RecentScores keeps the scores of the last n merges, oldest first', () => {
  const pool = new RecentScores(2);
  assert.deepEqual(pool.values(), []);
  pool.push([1, 2]);
  pool.push([]);
  pool.push([3, Number.NaN, 4]);
  assert.deepEqual(pool.values(), [3, 4]);
  pool.push([5]);
  assert.deepEqual(pool.values(), [3, 4, 5]);
  const off = new RecentScores(0);
  off.push([1]);
  assert.deepEqual(off.values(), []);
});

test('harmfulOutliers: the band can be measured over reference scores', () => {
  const scores = [0.15, 0.05, 0.12, 0.02, -0.05, -0.06, -0.3];
  // Over all scores the MAD is wide: only -0.3 is out.
  assert.deepEqual(harmfulOutliers(scores, 0.02, 2), [6]);
  // Over the first four the band is tight: every harmful score is out.
  assert.deepEqual(harmfulOutliers(scores, 0.02, 2, Number.POSITIVE_INFINITY, scores.slice(0, 4)), [4, 5, 6]);
});

test('worseWhen private: a sender with a good record that hurts the private part is scored by this round, not its blend', () => {
  const honest = [
    cand('a', vec([1.1, 0.9])),
    cand('b', vec([0.9, 1.1])),
    cand('c', vec([1, 0.8])),
    cand('d', vec([1.05, 1.2])),
  ];
  // Gate off: no candidate has a low certainty, so 'certainty' never takes the worse score.
  const rejectedInRound5 = (worseWhen: 'certainty' | 'private') => {
    const merge = bristleLdawaStrategy({ ...OFF, passes: 1, worseWhen });
    let rejected: string[] = [];
    for (let round = 0; round < 6; round++) {
      // Helps for five rounds, then sends a model far off on the private samples.
      const evil = cand('evil', vec(round < 5 ? [1, 1] : [-1, 0.8]));
      const { report } = mergeWithReport(merge, vec([1, 0]), [...honest, evil], splitContext(4, 16, { round }));
      rejected = report?.rejected.map((r) => r.peer) ?? [];
    }
    return rejected;
  };
  assert.deepEqual(rejectedInRound5('certainty'), []);
  assert.deepEqual(rejectedInRound5('private'), ['evil']);
});

test('lowWeight: an accepted group below the median leave-group-out score keeps lowWeight x its weight', () => {
  const opts = { ...OFF, passes: 1, mu: 10, hard: 0 } as const;
  const own = vec([1, 1.2]);
  const offered = [cand('good', vec([1, 1])), cand('ok', vec([1.1, 1])), cand('bad', vec([2, 2]))];
  const share = (options: Partial<BristleLdawaOptions>): Map<string, number> => {
    const { report } = mergeWithReport(bristleLdawaStrategy(options), own, offered, ctxFor([1, 1]));
    return new Map(report?.used.map((u) => [u.peer, u.share]));
  };
  const plain = share(opts);
  const low = share({ ...opts, lowWeight: 0.5 });
  assertClose([plain.get('good') ?? 0, plain.get('bad') ?? 0], [0.25, 0.25]);
  // Only 'bad' is below the median score; it weighs 0.5 against 1 for the others and own.
  assertClose([low.get('good') ?? 0, low.get('ok') ?? 0, low.get('bad') ?? 0], [1 / 3.5, 1 / 3.5, 0.5 / 3.5]);
  // lowBelow: a group at or above lowBelow x the reference certainty is spared (gate off: no certainty, all spared).
  assertClose([share({ ...opts, lowWeight: 0.5, lowBelow: 0.9 }).get('bad') ?? 0], [0.25]);
});

test('gce: a sender that helps CE only on a few confidently wrong samples, at a cost to the rest of V, is rejected', () => {
  // 18 samples of class 0 read dimension 0, 2 of class 1 read dimension 1; CE grows with the
  // distance to 1. Every honest model is confidently wrong on class 1 (w_1 = -1, CE 12):
  // evil pulls w_1 up, which CE rewards (r +0.25), and w_0 down, which costs the 18 others.
  const labels = Uint8Array.from({ length: 20 }, (_, i) => (i < 18 ? 0 : 1));
  const ctx = context({
    evaluate: (w: Weights): ClassScores => {
      const v = w[0].values;
      const sampleLoss = Float32Array.from(labels, (d) => (d === 0 ? 2 : 3) * (v[d] - 1) ** 2 + 0.05);
      const f1 = Float64Array.from([0, 1], (c) => Math.exp(-Math.abs(v[c] - 1)));
      const loss = sampleLoss.reduce((s, x) => s + x, 0) / sampleLoss.length;
      return { f1, accuracy: f1, overallAccuracy: 0, loss, sampleLoss };
    },
    familiarClasses: [0, 1],
    numClasses: 2,
  });
  const honest = [
    cand('a', vec([1.02, -1])),
    cand('b', vec([0.98, -0.99])),
    cand('c', vec([1, -1.01])),
    cand('d', vec([1.01, -1])),
  ];
  const rejected = (gce: 'auto' | 'on' | 'off', gceQ = 0.3, neighbours?: number) => {
    const merge = bristleLdawaStrategy({ ...OFF, passes: 1, memory: 'off', gce, gceQ });
    const at = neighbours === undefined ? ctx : { ...ctx, neighbours };
    const { report } = mergeWithReport(merge, vec([1, -1]), [...honest, cand('evil', vec([-0.5, 1]))], at);
    return report?.rejected.map((r) => [r.peer, r.reason]);
  };
  assert.deepEqual(rejected('off'), []);
  assert.deepEqual(rejected('on'), [['evil', 'harmful']]);
  // q = 1 (one minus the mean probability of the true label) sees it too.
  assert.deepEqual(rejected('on', 1), [['evil', 'harmful']]);
  // auto: on when the peer merges every candidate, off with D neighbours.
  assert.deepEqual(rejected('auto'), [['evil', 'harmful']]);
  assert.deepEqual(rejected('auto', 0.3, 8), []);
  // gceWho unproven (the default): a sender whose record is good is judged on CE alone.
  const rejectedAfterGoodRounds = (gceWho: 'unproven' | 'any'): boolean => {
    const merge = bristleLdawaStrategy({ ...OFF, passes: 1, gce: 'on', gceWho });
    let out = false;
    for (let round = 0; round < 6; round++) {
      const evil = cand('evil', vec(round < 5 ? [1, 1] : [-0.5, 1]));
      const { report } = mergeWithReport(merge, vec([1, -1]), [...honest, evil], { ...ctx, round });
      out = report?.rejected.some((r) => r.peer === 'evil') ?? false;
    }
    return out;
  };
  assert.equal(rejectedAfterGoodRounds('unproven'), false);
  assert.equal(rejectedAfterGoodRounds('any'), true);
});
