import assert from 'node:assert/strict';
import { test } from 'node:test';
import { meanStrategy } from '../../src/merge/mean.ts';
import { isOracle, ORACLE_STRATEGY, oracleStrategy } from '../../src/merge/oracle.ts';
import { createStrategy } from '../../src/merge/registry.ts';
import { mergeWithReport } from '../../src/merge/report.ts';
import { assertClose, cand, context, values, vec } from './fixtures.ts';

test('oracle: mean over own and the honest candidates only; the others are reported with share 0', () => {
  const honest = new Set(['a', 'b']);
  const cands = [cand('a', vec([3]), 1), cand('evil', vec([1e6]), 100), cand('b', vec([6]), 2)];
  const { weights, report } = mergeWithReport(
    oracleStrategy((id) => honest.has(id)),
    vec([0]),
    cands,
    context({ ownSamples: 1 }),
  );
  // (0 * 1 + 3 * 1 + 6 * 2) / 4
  assertClose(values(weights), [3.75]);
  assert.equal(report?.strategy, ORACLE_STRATEGY);
  assert.deepEqual(
    report?.used.map((u) => u.peer),
    ['a', 'b'],
  );
  assert.deepEqual(
    report?.rejected.map((r) => [r.peer, r.reason]),
    [['evil', 'not-selected']],
  );
  // Options are mean's.
  const uniform = oracleStrategy((id) => honest.has(id), { weighting: 'uniform' });
  assertClose(values(uniform(vec([0]), cands, context())), [3]);
  assert.throws(() => oracleStrategy(() => true, { weighting: 'median' as never }), /mean: option "weighting"/);
  // Everyone honest: exactly mean.
  assert.deepEqual(
    values(oracleStrategy(() => true)(vec([0]), cands, context())),
    values(meanStrategy()(vec([0]), cands, context())),
  );
  // Nobody honest: own.
  assertClose(values(oracleStrategy(() => false)(vec([7]), cands, context())), [7]);
});

test('oracle: a simulation-only name, unknown to the strategy registry', () => {
  assert.ok(isOracle('oracle') && isOracle({ name: 'oracle' }) && !isOracle('mean'));
  assert.throws(() => createStrategy('oracle'), /unknown merge strategy "oracle"/);
});
