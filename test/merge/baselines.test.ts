import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balanceStrategy } from '../../src/merge/balance.ts';
import { centeredClippingStrategy } from '../../src/merge/centered-clipping.ts';
import { adaptiveRadius, clippedGossipStrategy } from '../../src/merge/clipped-gossip.ts';
import { krumScores, krumStrategy, multiKrumStrategy } from '../../src/merge/krum.ts';
import { meanStrategy } from '../../src/merge/mean.ts';
import { medianStrategy } from '../../src/merge/median.ts';
import { mergeWithReport } from '../../src/merge/report.ts';
import { trimmedMeanStrategy } from '../../src/merge/trimmed-mean.ts';
import { layer } from '../../src/model/weights.ts';
import { assertClose, cand, context, values, vec } from './fixtures.ts';

test('mean: sample-weighted average including own', () => {
  const out = meanStrategy()(vec([0, 0]), [cand('a', vec([3, 6]), 2)], context({ ownSamples: 1 }));
  assertClose(values(out), [2, 4]);
  const uniform = meanStrategy({ weighting: 'uniform' })(vec([0, 0]), [cand('a', vec([3, 6]), 2)], context());
  assertClose(values(uniform), [1.5, 3]);
});

test('mean: all sample counts zero falls back to equal weights; own with 0 samples gets no weight', () => {
  const out = meanStrategy()(vec([0]), [cand('a', vec([4]), 0)], context({ ownSamples: 0 }));
  assertClose(values(out), [2]);
  const noOwn = meanStrategy()(vec([0]), [cand('a', vec([4]), 1), cand('b', vec([8]), 3)], context({ ownSamples: 0 }));
  assertClose(values(noOwn), [7]);
});

test('median: odd and even counts (own included)', () => {
  assertClose(values(medianStrategy()(vec([0]), [cand('a', vec([1])), cand('b', vec([100]))], context())), [1]);
  const even = medianStrategy()(
    vec([0]),
    [cand('a', vec([1])), cand('b', vec([10])), cand('c', vec([100]))],
    context(),
  );
  assertClose(values(even), [5.5]);
});

test('trimmed mean: drops b per side per coordinate', () => {
  const cands = [1, 2, 3, 100].map((v, i) => cand(`p${i}`, vec([v, -v])));
  const out = trimmedMeanStrategy()(vec([0, 0]), cands, context()); // n = 5, b = floor(0.2 * 5) = 1
  assertClose(values(out), [2, -2]);
  const b2 = trimmedMeanStrategy({ b: 2 })(vec([0, 0]), cands, context());
  assertClose(values(b2), [2, -2]);
  const capped = trimmedMeanStrategy({ b: 9 })(vec([0]), [cand('a', vec([5]))], context()); // b capped at 0
  assertClose(values(capped), [2.5]);
});

test('krum: scores and selection by hand', () => {
  const inputs = [vec([0]), vec([1]), vec([2]), vec([100])];
  // n = 4, f = 0 -> each sums its 2 nearest squared distances.
  assertClose(Array.from(krumScores(inputs, 0, [0])), [5, 2, 5, 98 * 98 + 99 * 99]);
  const cands = [cand('a', vec([1])), cand('b', vec([2])), cand('c', vec([100]))];
  const { weights, report } = mergeWithReport(krumStrategy(), vec([0]), cands, context());
  assertClose(values(weights), [1]);
  assert.deepEqual(
    report?.used.map((u) => u.peer),
    ['a'],
  );
  assert.deepEqual(
    report?.rejected.map((r) => [r.peer, r.reason]),
    [
      ['b', 'not-selected'],
      ['c', 'not-selected'],
    ],
  );
  // Multi-Krum, m = 2: a (score 2) and own (score 5, ties with b; the earlier input wins).
  assertClose(values(multiKrumStrategy({ m: 2 })(vec([0]), cands, context())), [0.5]);
});

test('centered clipping: one and two iterations by hand', () => {
  const cands = [cand('a', vec([3, 4]))];
  assertClose(values(centeredClippingStrategy({ tau: 1, L: 1 })(vec([0, 0]), cands, context())), [0.3, 0.4]);
  // Second step from v = (0.3, 0.4): own diff norm 0.5 (unclipped), candidate diff norm 4.5 -> scaled to 1.
  assertClose(values(centeredClippingStrategy({ tau: 1, L: 2 })(vec([0, 0]), cands, context())), [0.45, 0.6]);
});

test('clipped gossip: fixed and adaptive radius by hand', () => {
  const cands = [cand('a', vec([3, 4])), cand('b', vec([0, 1]))];
  // x + (1/3) (clip((3,4), 1) + (0,1)) = (0.6, 1.8) / 3
  assertClose(values(clippedGossipStrategy({ tau: 1 })(vec([0, 0]), cands, context())), [0.2, 0.6]);
  assert.equal(adaptiveRadius([5, 1], 0.2), 1);
  assert.equal(adaptiveRadius([5, 1, 3, 2, 4], 0.4), 3);
  assert.equal(adaptiveRadius([5, 1], 1), 0);
  assertClose(values(clippedGossipStrategy()(vec([0, 0]), cands, context())), [0.2, 0.6]);
});

test('balance: accepts within the decaying radius, then alpha-mixes', () => {
  const own = vec([3, 4]); // ||own|| = 5, radius at round 0 = 0.3 * 5 = 1.5
  const cands = [cand('near', vec([3, 5])), cand('far', vec([10, 4]))];
  const { weights, report } = mergeWithReport(balanceStrategy(), own, cands, context({ round: 0 }));
  assertClose(values(weights), [3, 4.5]);
  assert.deepEqual(
    report?.rejected.map((r) => [r.peer, r.reason]),
    [['far', 'too-far']],
  );
  // At t = T the radius is 1.5 / e = 0.55 < 1: nothing accepted, own kept.
  assertClose(values(balanceStrategy({ T: 100 })(own, cands, context({ round: 100 }))), [3, 4]);
});

test('non-trainable layers are copied from own', () => {
  const own = [layer('frozen', [2], [1, 2]), layer('w', [1], [0])];
  const other = [layer('frozen', [2], [9, 9]), layer('w', [1], [4])];
  const ctx = context({ trainableLayers: new Set(['w']) });
  for (const s of [meanStrategy({ weighting: 'uniform' }), medianStrategy(), krumStrategy()]) {
    const out = s(own, [cand('a', other)], ctx);
    assertClose(values(out, 0), [1, 2]);
  }
  assertClose(values(meanStrategy({ weighting: 'uniform' })(own, [cand('a', other)], ctx), 1), [2]);
});
