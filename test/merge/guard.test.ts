import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admitCandidates, mergedLayerIndices } from '../../src/merge/guard.ts';
import { meanStrategy } from '../../src/merge/mean.ts';
import { type MergeReport, mergeWithReport } from '../../src/merge/report.ts';
import { layer } from '../../src/model/weights.ts';
import { SharedCopies } from '../../src/wire/shared-copies.ts';
import { assertClose, cand, context, values, vec } from './fixtures.ts';

test('guard: rejects other architectures and non-finite models, keeps the newest per peer', () => {
  const own = vec([0, 0]);
  const cands = [
    cand('a', vec([1, 1]), 1, 1),
    cand('a', vec([3, 3]), 1, 2),
    cand('a', vec([9, 9]), 1, 0),
    cand('b', vec([1, 2, 3])),
    cand('c', [layer('other', [2], [1, 1])]),
    cand('d', vec([Number.NaN, 0])),
    cand('e', vec([0, Number.NEGATIVE_INFINITY])),
    cand('f', vec([2, 2]), Number.NaN),
    cand('g', vec([2, 2]), -5),
  ];
  const { admitted, rejected } = admitCandidates(own, cands, [0]);
  assert.deepEqual(
    admitted.map((c) => [c.peer, c.seq, c.samples]),
    [
      ['a', 2, 1],
      ['f', 1, 0],
      ['g', 1, 0],
    ],
  );
  assert.deepEqual(
    rejected.map((r) => [r.peer, r.seq, r.reason]),
    [
      ['a', 1, 'duplicate'],
      ['a', 0, 'duplicate'],
      ['b', 1, 'architecture'],
      ['c', 1, 'architecture'],
      ['d', 1, 'non-finite'],
      ['e', 1, 'non-finite'],
    ],
  );
});

test('guard: only merged layers are checked for non-finite values', () => {
  const own = [layer('frozen', [1], [0]), layer('w', [1], [0])];
  const c = cand('a', [layer('frozen', [1], [Number.NaN]), layer('w', [1], [2])]);
  const ctx = context({ trainableLayers: new Set(['w']) });
  assert.deepEqual(mergedLayerIndices(own, ctx), [1]);
  const out = meanStrategy({ weighting: 'uniform' })(own, [c], ctx);
  assertClose(values(out, 0), [0]);
  assertClose(values(out, 1), [1]);
});

test('mergeWithReport: returns the report and still feeds an outer sink', () => {
  const seen: MergeReport[] = [];
  const ctx = context({ report: (r) => seen.push(r) });
  const { weights, report } = mergeWithReport(meanStrategy(), vec([0]), [cand('a', vec([2]), 1)], ctx);
  assertClose(values(weights), [1]);
  assert.equal(seen.length, 1);
  assert.equal(seen[0], report);
  assert.deepEqual(report, {
    strategy: 'mean',
    ownShare: 0.5,
    used: [{ peer: 'a', seq: 1, share: 0.5 }],
    rejected: [],
  });
});

test('guard: with remembered scans (shared read-only copies) each array is scanned once, same verdicts', () => {
  const own = vec([0, 0]);
  const cands = [cand('a', vec([1, 1])), cand('b', vec([Number.NaN, 0])), cand('c', vec([1e30, 0]))];
  const plain = admitCandidates(own, cands, [0], 1e6);
  const scans = new SharedCopies();
  let calls = 0;
  const counting = {
    maxAbsBits: (v: Float32Array): number => {
      calls++;
      return scans.maxAbsBits(v);
    },
  };
  for (let merge = 0; merge < 3; merge++) {
    const remembered = admitCandidates(own, cands, [0], 1e6, counting);
    assert.deepEqual(remembered, plain);
  }
  assert.equal(calls, 9);
  // The memo holds per array: a new array with the same contents is scanned again (never by value).
  const again = admitCandidates(own, [cand('a', vec([1, 1]))], [0], 1e6, scans);
  assert.equal(again.admitted.length, 1);
  assert.deepEqual(
    plain.rejected.map((r) => r.reason),
    ['non-finite', 'out-of-range'],
  );
});
