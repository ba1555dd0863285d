/**
 * Per-class leave-group-out (bristle+ldawa option `classTest`).
 *
 * A group's leave-group-out score r_g (./influence.ts) sums its effect over every sample of
 * the validation set V. Split by label,
 *
 *   r_{g,c} = (sum_{i in V_c} l_i(A(S \ g)) - sum_{i in V_c} l_i(A(S))) / sum_{i in V} l_i(A(S))
 *
 * with l_i the cross-entropy of sample i and V_c the samples of class c, so
 * sum_c r_{g,c} = r_g ('share'); or, per class relative to that class's own loss,
 * (CE_c(A(S \ g)) - CE_c(A(S))) / CE_c(A(S)) ('relative'). A label flipper's harm
 * concentrates on the classes it flips; an honest specialist that holds few classes pulls
 * every other class a little towards its own. The test compares each group's worst class
 * (min over c) with the other groups' worst classes: the same statistic for every group,
 * so taking a minimum over the classes does not by itself make a group an outlier.
 */
import { harmfulOutliers } from './influence.ts';

export type ClassEffectKind = 'share' | 'relative';

/**
 * r_{g,c} for every class 0..numClasses-1 from per-sample losses with g in the mix
 * (`withG`) and without it (`withoutG`); a class without samples gets 0. Non-finite
 * losses or a non-positive total: every class 0 (no evidence).
 */
export function classEffects(
  withG: ArrayLike<number>,
  withoutG: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses: number,
  kind: ClassEffectKind = 'share',
): Float64Array {
  const out = new Float64Array(numClasses);
  const n = Math.min(withG.length, withoutG.length, labels.length);
  const sumWith = new Float64Array(numClasses);
  const sumWithout = new Float64Array(numClasses);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const c = labels[i] as number;
    if (!(c >= 0 && c < numClasses)) continue;
    const a = withG[i] as number;
    const b = withoutG[i] as number;
    if (!Number.isFinite(a) || !Number.isFinite(b)) return out;
    sumWith[c] += a;
    sumWithout[c] += b;
    total += a;
  }
  if (!(total > 0)) return out;
  for (let c = 0; c < numClasses; c++) {
    const d = sumWithout[c] - sumWith[c];
    if (kind === 'share') out[c] = d / total;
    else out[c] = sumWith[c] > 0 ? d / sumWith[c] : 0;
  }
  return out;
}

/** The smallest entry (its worst class); 0 when empty. */
export function worstClass(effects: ArrayLike<number>): number {
  let worst = Number.POSITIVE_INFINITY;
  for (let c = 0; c < effects.length; c++) worst = Math.min(worst, effects[c] as number);
  return Number.isFinite(worst) ? worst : 0;
}

/**
 * Indices of the groups whose worst class is a harmful outlier among the groups' worst
 * classes: below -mu and below median - k max(MAD, madFloor).
 */
export function classOutliers(worst: readonly number[], mu: number, k: number, madFloor?: number): number[] {
  return harmfulOutliers(worst, mu, k, Number.POSITIVE_INFINITY, worst, madFloor);
}
