import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createStrategy, strategyNames } from '../../src/merge/registry.ts';
import { mergeWithReport } from '../../src/merge/report.ts';
import type { Candidate, MergeContext } from '../../src/merge/types.ts';
import { allFinite, flatten, layer, type Weights } from '../../src/model/weights.ts';
import { columnEvaluator, context } from './fixtures.ts';

const NUM_CLASSES = 3;
const RUNS = 40;

function model(hidden: readonly number[], out: readonly number[]): Weights {
  return [layer('hidden', [2, 2], hidden), layer('out', [2, NUM_CLASSES], out)];
}

const value = fc.double({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true });
const modelArb = fc
  .tuple(fc.array(value, { minLength: 4, maxLength: 4 }), fc.array(value, { minLength: 6, maxLength: 6 }))
  .map(([h, o]) => model(h, o));

function candidatesArb(min: number, max: number) {
  return fc
    .array(fc.tuple(modelArb, fc.integer({ min: 0, max: 100 })), { minLength: min, maxLength: max })
    .map((xs) => xs.map(([w, samples], i): Candidate => ({ peer: `p${i}`, seq: 1, weights: w, samples })));
}

function ctx(round = 5): MergeContext {
  return context({
    numClasses: NUM_CLASSES,
    familiarClasses: [0, 1],
    outputLayer: { kernel: 'out' },
    evaluate: columnEvaluator('out', NUM_CLASSES),
    ownSamples: 10,
    round,
  });
}

function maxAbsDiff(a: Weights, b: Weights): number {
  const x = flatten(a);
  const y = flatten(b);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

function l2(a: Weights, b: Weights): number {
  const x = flatten(a);
  const y = flatten(b);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - y[i]) ** 2;
  return Math.sqrt(s);
}

// Exact ties are frequent here (fast-check likes 0 and the bounds); every rule must still be
// order-independent: Krum breaks score ties by peer id, Bristle's prioritizer too.
for (const name of strategyNames()) {
  test(`${name}: permutation of candidates does not change the result`, () => {
    const strategy = createStrategy(name);
    fc.assert(
      fc.property(modelArb, candidatesArb(1, 14), fc.integer({ min: 0, max: 1000 }), (own, cands, seed) => {
        const shuffled = [...cands];
        // Deterministic permutation from the seed.
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = (seed * 7919 + i * 104729) % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
        }
        const a = strategy(own, cands, ctx());
        const b = strategy(own, shuffled, ctx());
        assert.ok(maxAbsDiff(a, b) < 1e-5, `differs by ${maxAbsDiff(a, b)}`);
      }),
      { numRuns: RUNS, seed: 42 },
    );
  });

  test(`${name}: candidates equal to own give own; empty gives a fresh copy`, () => {
    const strategy = createStrategy(name);
    fc.assert(
      fc.property(modelArb, fc.integer({ min: 1, max: 8 }), (own, k) => {
        const cands = Array.from({ length: k }, (_, i) => ({ peer: `p${i}`, seq: 1, weights: own, samples: 5 }));
        assert.ok(maxAbsDiff(strategy(own, cands, ctx()), own) < 1e-6);
        const copy = strategy(own, [], ctx());
        assert.deepEqual(flatten(copy), flatten(own));
        for (let i = 0; i < copy.length; i++) assert.notEqual(copy[i]?.values, own[i]?.values);
      }),
      { numRuns: RUNS, seed: 7 },
    );
  });

  test(`${name}: never outputs NaN/Infinity for finite own, whatever the candidates hold`, () => {
    const strategy = createStrategy(name);
    const poison = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3e38, -3e38, 0);
    fc.assert(
      fc.property(
        modelArb,
        candidatesArb(0, 8),
        fc.array(fc.tuple(poison, fc.nat(9)), { maxLength: 4 }),
        (own, cands, hits) => {
          const attacked = cands.map((c, i) => {
            const hit = hits[i];
            if (hit === undefined) return c;
            const weights = c.weights.map((l) => ({ ...l, values: l.values.slice() }));
            const flat = weights[hit[1] % 2]!.values;
            flat[hit[1] % flat.length] = hit[0];
            return { ...c, weights, samples: Number.NaN };
          });
          const { weights, report } = mergeWithReport(strategy, own, attacked, ctx());
          assert.ok(allFinite(weights));
          const nonFinite = attacked.filter((c) => !allFinite(c.weights)).length;
          // Shares of own and the used candidates add up to 1, none negative.
          const shares = [report?.ownShare ?? Number.NaN, ...(report?.used.map((u) => u.share) ?? [])];
          assert.ok(shares.every((x) => x >= 0));
          assert.ok(Math.abs(shares.reduce((t, x) => t + x, 0) - 1) < 1e-9, `shares ${shares}`);
          assert.equal(report?.rejected.filter((r) => r.reason === 'non-finite').length, nonFinite);
        },
      ),
      { numRuns: RUNS, seed: 3 },
    );
  });
}

/** Robust rules: one arbitrary outlier among honest candidates near own moves the result a bounded amount. */
const BOUNDED: Record<string, (own: Weights, honest: readonly Weights[], out: Weights) => void> = {
  median: coordinateRange,
  'trimmed-mean': coordinateRange,
  krum: coordinateRange,
  'centered-clipping': (own, _h, out) => assert.ok(l2(out, own) <= 3 * 10 + 1e-3), // L * tau
  'clipped-gossip': (own, honest, out) => {
    const radius = Math.max(...honest.map((h) => l2(h, own)));
    assert.ok(l2(out, own) <= radius + 1e-4, `moved ${l2(out, own)} > ${radius}`);
  },
};

/** Every coordinate stays within the range of own and the honest models. */
function coordinateRange(own: Weights, honest: readonly Weights[], out: Weights): void {
  const xs = [own, ...honest].map(flatten);
  const r = flatten(out);
  for (let i = 0; i < r.length; i++) {
    const col = xs.map((x) => x[i]);
    assert.ok(r[i]! >= Math.min(...col) - 1e-6 && r[i]! <= Math.max(...col) + 1e-6, `coordinate ${i} = ${r[i]}`);
  }
}

for (const [name, check] of Object.entries(BOUNDED)) {
  test(`${name}: bounds the influence of one arbitrary outlier`, () => {
    const strategy = createStrategy(name);
    const big = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(
        modelArb,
        candidatesArb(4, 8),
        fc.array(big, { minLength: 10, maxLength: 10 }),
        fc.nat(20),
        (own, honest, outlierValues, at) => {
          const outlier: Candidate = {
            peer: 'evil',
            seq: 1,
            weights: model(outlierValues.slice(0, 4), outlierValues.slice(4)),
            samples: 1e9,
          };
          const cands = [...honest];
          cands.splice(at % (cands.length + 1), 0, outlier);
          const out = strategy(own, cands, ctx());
          check(
            own,
            honest.map((c) => c.weights),
            out,
          );
        },
      ),
      { numRuns: RUNS, seed: 11 },
    );
  });
}

test('bristle: a candidate scoring uniformly worse gets no more weight than a better one', () => {
  const strategy = createStrategy('bristle');
  const level = fc.double({ min: 0, max: 1, noNaN: true });
  fc.assert(
    fc.property(level, level, level, (a, b, f0) => {
      const [hi, lo] = a >= b ? [a, b] : [b, a];
      const own = model([0, 0, 0, 0], [0, 0, 0, 0, 0, 0]);
      const better = model([1, 1, 1, 1], [1, 1, 1, 1, 1, 1]);
      const worse = model([2, 2, 2, 2], [2, 2, 2, 2, 2, 2]);
      const table = new Map<Weights, number>([
        [own, f0],
        [better, hi],
        [worse, lo],
      ]);
      const c = context({
        numClasses: NUM_CLASSES,
        familiarClasses: [0, 1],
        outputLayer: { kernel: 'out' },
        evaluate: (w) => {
          const f = table.get(w) ?? 0;
          const f1 = Float64Array.of(f, f, 0);
          return { f1, accuracy: f1, overallAccuracy: f, loss: 0 };
        },
      });
      const { report } = mergeWithReport(
        strategy,
        own,
        [
          { peer: 'better', seq: 1, weights: better, samples: 1 },
          { peer: 'worse', seq: 1, weights: worse, samples: 1 },
        ],
        c,
      );
      const share = (peer: string) => report?.used.find((u) => u.peer === peer)?.share ?? Number.NaN;
      assert.ok(share('worse') <= share('better') + 1e-12, `${share('worse')} > ${share('better')}`);
      if (hi > lo && share('better') > 0) assert.ok(share('worse') < share('better'));
    }),
    { numRuns: 200, seed: 5 },
  );
});
