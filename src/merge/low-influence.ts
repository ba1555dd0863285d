/**
 * Low-influence weight (bristle+ldawa option `lowWeight`).
 *
 * Before a sender has a record, one round's leave-group-out score r_g (./influence.ts)
 * cannot reject a label flipper: its r is a little below the honest senders' but inside
 * their spread. It is still more often below the median: an accepted group whose r is
 * below the median r of the accepted groups is kept, with its weight scaled by
 * `lowWeight`, instead of being rejected or weighed in full.
 */
import { median } from './influence.ts';

/**
 * Indices of the groups whose first-pass score is below the median of the scored groups'
 * (`undefined` = not scored or not accepted: neither counted nor returned); a group with
 * `exempt[g]` (e.g. every sender has a good record) counts towards the median but is never
 * returned. Fewer than 2 scored groups: none.
 */
export function lowInfluenceGroups(first: readonly (number | undefined)[], exempt: readonly boolean[]): number[] {
  const scored = first.filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (scored.length < 2) return [];
  const mid = median(scored);
  const out: number[] = [];
  first.forEach((r, g) => {
    if (r !== undefined && Number.isFinite(r) && r < mid && !exempt[g]) out.push(g);
  });
  return out;
}
