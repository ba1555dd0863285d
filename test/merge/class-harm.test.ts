/**
 * Per-class leave-group-out (bristle+ldawa option `classTest`, src/merge/class-harm.ts)
 * and the low-influence weight (option `lowWeight`, src/merge/low-influence.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classEffects, classOutliers, worstClass } from '../../src/merge/class-harm.ts';
import { lowInfluenceGroups } from '../../src/merge/low-influence.ts';

const close = (a: ArrayLike<number>, b: readonly number[]): void => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs((a[i] as number) - (b[i] as number)) < 1e-12, `${i}: ${a[i]}`);
};

test('classEffects share: per-class parts of r that sum to r', () => {
  const labels = [0, 0, 1, 1, 2];
  const withG = [1, 1, 1, 1, 1]; // total 5
  const without = [2, 1, 1, 0.5, 1];
  const e = classEffects(withG, without, labels, 3);
  close(e, [1 / 5, -0.5 / 5, 0]);
  const r = (without.reduce((a, b) => a + b) - 5) / 5;
  assert.ok(Math.abs(e.reduce((a, b) => a + b, 0) - r) < 1e-12);
});

test('classEffects relative: against the class loss; empty classes and bad input give 0', () => {
  const labels = [0, 0, 1];
  close(classEffects([1, 1, 2], [2, 2, 1], labels, 4, 'relative'), [1, -0.5, 0, 0]);
  close(classEffects([1, Number.NaN, 2], [2, 2, 1], labels, 2), [0, 0]);
  close(classEffects([0, 0, 0], [2, 2, 1], labels, 2), [0, 0]);
  // A label out of range is skipped.
  close(classEffects([1, 1], [2, 1], [0, 7], 2), [1, 0]);
});

test('worstClass: the minimum, 0 when empty', () => {
  assert.equal(worstClass([0.1, -0.3, 0.2]), -0.3);
  assert.equal(worstClass([]), 0);
});

test('classOutliers: below -mu and median - k max(MAD, floor)', () => {
  const worst = [-0.01, -0.012, -0.011, -0.009, -0.08];
  assert.deepEqual(classOutliers(worst, 0.02, 2, 0.002), [4]);
  assert.deepEqual(classOutliers(worst, 0.1, 2, 0.002), [], 'above -mu');
  assert.deepEqual(classOutliers(worst, 0.02, 2, 0.05), [], 'inside the floor band');
});

test('lowInfluenceGroups: below the median of the scored groups, exempt ones kept', () => {
  const first = [0.03, -0.01, undefined, 0.01, 0.002, 0.02];
  // median of [0.03, -0.01, 0.01, 0.002, 0.02] = 0.01
  assert.deepEqual(lowInfluenceGroups(first, [false, false, false, false, false, false]), [1, 4]);
  assert.deepEqual(lowInfluenceGroups(first, [false, true, false, false, false, false]), [4]);
  assert.deepEqual(lowInfluenceGroups([0.1], [false]), [], 'one group: none');
  assert.deepEqual(lowInfluenceGroups([0.1, 0.1, 0.1], [false, false, false]), [], 'ties: none');
});
