import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { admitCandidates } from '../../src/merge/guard.ts';
import { createStrategy, strategyNames } from '../../src/merge/registry.ts';
import { mergeWithReport } from '../../src/merge/report.ts';
import type { Candidate, MergeContext } from '../../src/merge/types.ts';
import { DEFAULT_VALUE_BOUND, firstOutOfBound } from '../../src/model/bounds.ts';
import { layer, type Weights } from '../../src/model/weights.ts';
import { cand, columnEvaluator, context, vec } from './fixtures.ts';

const NUM_CLASSES = 3;

test('guard: a finite value outside the bound is out-of-range; NaN wins over it; the bound is a parameter', () => {
  const own = vec([0, 0]);
  const cands = [
    cand('ok', vec([DEFAULT_VALUE_BOUND, -DEFAULT_VALUE_BOUND])),
    cand('big', vec([3e38, 0])),
    cand('just', vec([0, -10_001])),
    cand('both', vec([3e38, Number.NaN])),
  ];
  const { admitted, rejected } = admitCandidates(own, cands, [0]);
  assert.deepEqual(
    admitted.map((c) => c.peer),
    ['ok'],
  );
  assert.deepEqual(
    rejected.map((r) => [r.peer, r.reason]),
    [
      ['big', 'out-of-range'],
      ['just', 'out-of-range'],
      ['both', 'non-finite'],
    ],
  );
  assert.equal(admitCandidates(own, [cand('x', vec([50, 0]))], [0], 10).rejected[0]?.reason, 'out-of-range');
  assert.equal(admitCandidates(own, [cand('x', vec([3e38, 0]))], [0], Number.POSITIVE_INFINITY).admitted.length, 1);
});

test('guard: with the bound off (Infinity), +-Infinity is still non-finite', () => {
  // The float-compare scan this replaced let Infinity through here (Infinity <= Infinity).
  const own = vec([0, 0]);
  for (const bad of [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]) {
    const { admitted, rejected } = admitCandidates(own, [cand('x', vec([1, bad]))], [0], Number.POSITIVE_INFINITY);
    assert.equal(admitted.length, 0, `${bad}`);
    assert.equal(rejected[0]?.reason, 'non-finite', `${bad}`);
  }
});

function model(hidden: readonly number[], out: readonly number[]): Weights {
  return [layer('hidden', [2, 2], hidden), layer('out', [2, NUM_CLASSES], out)];
}

const value = fc.double({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true });
const modelArb = fc
  .tuple(fc.array(value, { minLength: 4, maxLength: 4 }), fc.array(value, { minLength: 6, maxLength: 6 }))
  .map(([h, o]) => model(h, o));
const poison = fc.oneof(
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3e38, -3e38, 1.0001e4, -5e6),
  fc.double({ min: 1.0001e4, max: 3e38, noNaN: true }),
);

function ctx(): MergeContext {
  return context({
    numClasses: NUM_CLASSES,
    familiarClasses: [0, 1],
    outputLayer: { kernel: 'out' },
    evaluate: columnEvaluator('out', NUM_CLASSES),
    ownSamples: 10,
    round: 5,
  });
}

// Every registered rule: a poisoned candidate is reported as rejected by the guard and never
// used, and the result stays finite and within the bound (own and the clean candidates are).
for (const name of strategyNames()) {
  test(`${name}: non-finite and out-of-range values never reach a merge`, () => {
    const strategy = createStrategy(name);
    fc.assert(
      fc.property(
        modelArb,
        fc.array(modelArb, { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(), poison, fc.nat(9)), { minLength: 1, maxLength: 4 }),
        (own, clean, hits) => {
          const cands: Candidate[] = clean.map((w, i) => ({ peer: `p${i}`, seq: 1, weights: w, samples: 5 }));
          const poisoned = new Set<string>();
          for (const [which, v, at] of hits) {
            const c = cands[which % cands.length];
            const weights = c.weights.map((l) => ({ ...l, values: l.values.slice() }));
            const values = (weights[at % 2] as Weights[number]).values;
            values[at % values.length] = v;
            cands[which % cands.length] = { ...c, weights };
            poisoned.add(c.peer);
          }
          const { weights, report } = mergeWithReport(strategy, own, cands, ctx());
          for (const l of weights) assert.equal(firstOutOfBound(l.values, DEFAULT_VALUE_BOUND), -1, l.name);
          const used = new Set(report?.used.map((u) => u.peer));
          for (const p of poisoned) assert.ok(!used.has(p), `${p} was used`);
          const refused = report?.rejected.filter((r) => r.reason === 'non-finite' || r.reason === 'out-of-range');
          assert.deepEqual(new Set(refused?.map((r) => r.peer)), poisoned);
        },
      ),
      { numRuns: 40, seed: 1214 },
    );
  });
}
