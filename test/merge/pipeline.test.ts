/**
 * pipeline(): guard -> prioritizer -> integrator -> adjusters -> combine. Spy stages show
 * what each stage is handed, in which order, and what ends up in the result and the report.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Adjuster, type Integrator, type Prioritizer, pipeline } from '../../src/merge/pipeline.ts';
import { type MergeReport, mergeWithReport } from '../../src/merge/report.ts';
import type { Candidate } from '../../src/merge/types.ts';
import {
  type LayerWeight,
  scalar,
  scaleWeighting,
  uniformWeighting,
  type Weighting,
} from '../../src/merge/weighting.ts';
import { layer, type Weights } from '../../src/model/weights.ts';
import { assertClose, cand, context, values } from './fixtures.ts';

/** A frozen layer (not exchanged) and a 2x2 output kernel. */
function model(frozen: readonly number[], out: readonly number[]): Weights {
  return [layer('frozen', [2], frozen), layer('out', [2, 2], out)];
}

const ctx = (report?: (r: MergeReport) => void) =>
  context({ trainableLayers: new Set(['out']), outputLayer: { kernel: 'out' }, numClasses: 2, report });

const scalars = (w: Weighting): number[][] =>
  w.weights.map((row) => row.map((x) => (x.kind === 'scalar' ? x.value : Number.NaN)));

test('stages run in order on what the previous one kept; the report collects every exclusion', () => {
  const own = model([5, 6], [1, 1, 1, 1]);
  const a = cand('a', model([0, 0], [10, 10, 10, 10]), 1, 2);
  const b = cand('b', model([0, 0], [19, 19, 19, 19]), 1, 1);
  const c = cand('c', model([0, 0], [7, 7, 7, 7]), 1, 1);
  const wrongShape = cand('x', [layer('frozen', [2], [0, 0]), layer('out', [4], [1, 1, 1, 1])]);
  const nonFinite = cand('n', model([0, 0], [1, Number.NaN, 1, 1]));
  const older = cand('a', model([0, 0], [99, 99, 99, 99]), 1, 1);
  const input = [a, wrongShape, b, nonFinite, older, c];
  const inputCopy = input.map((x) => values(x.weights, x.weights.length - 1));

  const calls: string[] = [];
  const prioritizer: Prioritizer = (_own, candidates, _ctx, layers) => {
    calls.push(`prioritize ${candidates.map((x) => x.peer).join(',')} layers ${layers.join(',')}`);
    return candidates.filter((x) => x.peer !== 'c');
  };
  const integrator: Integrator = (_own, candidates, _ctx, layers) => {
    calls.push(`integrate ${candidates.map((x) => x.peer).join(',')} layers ${layers.join(',')}`);
    return uniformWeighting(candidates, layers, (_c, j) => j + 1); // a 1, b 2
  };
  const double: Adjuster = (_own, w) => {
    calls.push(`double ${JSON.stringify(scalars(w))}`);
    return scaleWeighting(w, () => 2);
  };
  const plusOne: Adjuster = (_own, w) => {
    calls.push(`plus one ${JSON.stringify(scalars(w))}`);
    return {
      ...w,
      weights: w.weights.map((row) => row.map((x): LayerWeight => scalar((x as { value: number }).value + 1))),
    };
  };
  const strategy = pipeline({ name: 'spy', prioritizer, integrator, adjusters: [double, plusOne] });

  const { weights, report } = mergeWithReport(strategy, own, input, ctx());
  assert.deepEqual(calls, [
    'prioritize a,b,c layers 1',
    'integrate a,b layers 1',
    'double [[1],[2]]',
    'plus one [[2],[4]]',
  ]);
  // final weights a 3, b 5, own 1: (1 + 3*10 + 5*19) / 9 = 14; the frozen layer stays own's
  assert.deepEqual(values(weights, 0), [5, 6]);
  assertClose(values(weights, 1), [14, 14, 14, 14]);
  assert.ok(report);
  assert.equal(report.strategy, 'spy');
  assertClose([report.ownShare], [1 / 9]);
  assert.deepEqual(
    report.used.map((u) => [u.peer, u.seq]),
    [
      ['a', 2],
      ['b', 1],
    ],
  );
  assertClose(
    report.used.map((u) => u.share),
    [3 / 9, 5 / 9],
  );
  assert.deepEqual(report.rejected, [
    { peer: 'x', seq: 1, reason: 'architecture' },
    { peer: 'n', seq: 1, reason: 'non-finite' },
    { peer: 'a', seq: 1, reason: 'duplicate' },
    { peer: 'c', seq: 1, reason: 'not-prioritized' },
  ]);
  assert.deepEqual(
    input.map((x) => values(x.weights, x.weights.length - 1)),
    inputCopy,
    'inputs untouched',
  );
  assert.deepEqual(values(own, 1), [1, 1, 1, 1]);
});

test('with nothing admitted no stage runs; the result is a copy of own and the report says why', () => {
  const own = model([5, 6], [1, 2, 3, 4]);
  const fail = (): never => {
    throw new Error('no stage may run without candidates');
  };
  const strategy = pipeline({ name: 'spy', prioritizer: fail, integrator: fail, adjusters: [fail] });
  const bad = cand('n', model([0, 0], [Number.POSITIVE_INFINITY, 0, 0, 0]), 1, 4);
  for (const candidates of [[], [bad]] as Candidate[][]) {
    const { weights, report } = mergeWithReport(strategy, own, candidates, ctx());
    assert.deepEqual(weights, own);
    assert.notEqual(weights[1], own[1], 'a copy, not own itself');
    assert.deepEqual(report, {
      strategy: 'spy',
      ownShare: 1,
      used: [],
      rejected: candidates.length === 0 ? [] : [{ peer: 'n', seq: 4, reason: 'non-finite' }],
    });
  }
});

test('without prioritizer and adjusters the integrator weighting is combined as is, per class too', () => {
  const own = model([5, 6], [0, 0, 0, 0]);
  const x = cand('x', model([0, 0], [2, 4, 6, 8]));
  const seen: Candidate[][] = [];
  const perClass: Integrator = (_own, candidates, _ctx, layers) => {
    seen.push([...candidates]);
    return {
      candidates,
      layers,
      weights: candidates.map(() => [{ kind: 'per-class', values: Float64Array.of(1, 0) }]),
    };
  };
  const strategy = pipeline({ name: 'per-class', integrator: perClass });
  const reports: MergeReport[] = [];
  const merged = strategy(
    own,
    [x],
    ctx((r) => reports.push(r)),
  );
  assert.deepEqual(
    seen.map((cs) => cs.map((c) => c.peer)),
    [['x']],
  );
  // column 0 (elements 0 and 2) averaged 1:1 with x, column 1 keeps own
  assert.deepEqual(values(merged, 1), [1, 0, 3, 0]);
  assert.equal(reports.length, 1);
  assertClose([reports[0]?.ownShare ?? Number.NaN, reports[0]?.used[0]?.share ?? Number.NaN], [3 / 4, 1 / 4]);
  // no report sink: same result, nothing to call
  assert.deepEqual(values(strategy(own, [x], ctx()), 1), [1, 0, 3, 0]);
});
