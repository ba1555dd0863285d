/**
 * Persistent harm at the round's own scale (bristle+ldawa option `poorScale`).
 *
 * Leave-group-out scores r_g (./influence.ts) scale with how much one group can change the
 * mix: with 20 Dirichlet(0.1) peers a typical |r| is 0.005-0.03, so a label flipper whose
 * r is -0.01 to -0.03 round after round stays above the absolute bar -mu (0.02), and its
 * blended score (diluted by its history and the neutral prior) even more so. This test
 * rejects a group whose senders all have a poor record (the median of their recent scores
 * and this round's is below 0, over at least `history` earlier rounds) when this round's
 * unblended r is both below -scale x median_g |r_g| and an outlier among this round's
 * scores (below median(r) - k max(MAD(r), MAD_FLOOR)).
 */
import { harmfulOutliers, median } from './influence.ts';

/**
 * Indices of the groups rejected: `poor[g]` (every member has a poor record), and
 * `effects[g]` below both -scale x median |effects| and median - k x max(MAD, MAD_FLOOR).
 * `scale` 0 turns the test off.
 */
export function persistentHarm(
  effects: readonly number[],
  poor: readonly boolean[],
  scale: number,
  k: number,
): number[] {
  if (scale <= 0 || effects.length === 0) return [];
  // The shared outlier test, with the bar at this round's scale.
  return harmfulOutliers(effects, scale * median(effects.map(Math.abs)), k).filter((g) => poor[g]);
}
