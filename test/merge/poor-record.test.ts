/**
 * Persistent harm at the round's scale (bristle+ldawa option `poorScale`,
 * src/merge/poor-record.ts): a sender with a poor record whose leave-group-out score is
 * negative beyond the round's typical |r| and an outlier is rejected, even when its score
 * is above the absolute bar -mu.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BristleLdawaOptions, bristleLdawaStrategy } from '../../src/merge/bristle-ldawa.ts';
import { persistentHarm } from '../../src/merge/poor-record.ts';
import { mergeWithReport } from '../../src/merge/report.ts';
import type { ClassScores, MergeContext } from '../../src/merge/types.ts';
import type { Weights } from '../../src/model/weights.ts';
import { cand, context, vec } from './fixtures.ts';

const OFF = { rho: 0, gate: 0, far: 0, kappa: 0, ldawa: 'off', passes: 0, sampleCap: 0 } as const;

/** Loss = squared distance to `target` (+1); F1 of class c = exp(-|w_c - target_c|). */
function ctxFor(target: readonly number[], overrides: Partial<MergeContext> = {}): MergeContext {
  return context({
    evaluate: (w: Weights): ClassScores => {
      const v = w[0].values;
      const f1 = Float64Array.from(target, (t, c) => Math.exp(-Math.abs(v[c] - t)));
      let loss = 1;
      target.forEach((t, c) => {
        loss += (v[c] - t) ** 2;
      });
      return { f1, accuracy: f1, overallAccuracy: 0, loss };
    },
    familiarClasses: target.map((_, c) => c),
    numClasses: target.length,
    ...overrides,
  });
}

test('persistentHarm: poor record, below -scale x median |r| and an outlier, all three', () => {
  const r = [0.01, 0.012, 0.008, 0.011, -0.012];
  const poor = [false, false, false, false, true];
  assert.deepEqual(persistentHarm(r, poor, 0.5, 2), [4]);
  assert.deepEqual(persistentHarm(r, poor, 0, 2), [], 'scale 0: off');
  assert.deepEqual(persistentHarm(r, [true, true, true, true, false], 0.5, 2), [], 'no poor record: kept');
  assert.deepEqual(persistentHarm(r, poor, 2, 2), [], 'above -2 x median |r| (-0.022): kept');
  assert.deepEqual(
    persistentHarm([0.01, -0.01, 0.012, -0.011, -0.012], poor, 0.5, 2),
    [],
    'negative scores are common this round: no outlier',
  );
  assert.deepEqual(persistentHarm([], [], 0.5, 2), []);
});

test('poorScale: a sender that hurts a little every round, above -mu, is rejected once its record is poor', () => {
  const target = [1, 1];
  // Many honest candidates near own (each changes the mix little, as with 20 peers) and
  // one sender a little off: its r is about -0.01 every round, above -mu (0.02).
  const honest = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((p, i) =>
    cand(p, vec([0.7 + 0.05 * (i % 3), 0.72 + 0.04 * (i % 4)])),
  );
  const run = (options: Partial<BristleLdawaOptions>): { rejected: boolean[] } => {
    const merge = bristleLdawaStrategy({ ...OFF, passes: 1, history: 2, ...options });
    const rejected: boolean[] = [];
    for (let round = 0; round < 5; round++) {
      const { report } = mergeWithReport(
        merge,
        vec([0.6, 0.6]),
        [...honest, cand('drift', vec([0.55, 0.55]))],
        ctxFor(target, { round }),
      );
      rejected.push(report?.rejected.some((x) => x.peer === 'drift') ?? false);
    }
    return { rejected };
  };
  assert.deepEqual(run({}).rejected, [false, false, false, false, false], 'the default keeps it');
  assert.deepEqual(run({ poorScale: 0.5 }).rejected, [false, false, true, true, true], 'after two poor rounds');
  assert.deepEqual(
    run({ poorScale: 0.5, memory: 'off' }).rejected,
    [false, false, false, false, false],
    'needs the memory',
  );
  assert.deepEqual(run({ poorScale: 50 }).rejected, [false, false, false, false, false], 'small against the bar: kept');
  // poorBelow: only candidates whose certainty is below poorBelow x the gate's reference.
  // drift's certainty is exp(-0.45) = 0.64, the reference (own and the honest ones) about 0.7.
  assert.deepEqual(
    run({ poorScale: 0.5, gate: 0.1, poorBelow: 0.95 }).rejected,
    [false, false, true, true, true],
    'less certain than the reference: tested',
  );
  assert.deepEqual(
    run({ poorScale: 0.5, gate: 0.1, poorBelow: 0.5 }).rejected,
    [false, false, false, false, false],
    'certain enough: not tested',
  );
});
