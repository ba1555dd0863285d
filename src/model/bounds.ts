/**
 * The absolute bound on model values, shared by the wire (src/wire/validate.ts rejects an
 * update holding a value outside it as 'out-of-range') and the merge guard
 * (src/merge/guard.ts drops such a candidate), so a huge finite value (say 3e38) never
 * reaches a merge or a checkpoint, even where the wire bound is configured off.
 *
 * 1e4 is generous on purpose: trained weights of the models meshfl builds stay within a
 * few units (init scales are ~0.1, BatchNorm parameters ~1); only an attacker or a
 * diverged peer produces |w| anywhere near 1e4. A model that legitimately needs larger
 * values sets a larger wire bound and must also pass it to the guard.
 */

/** Default absolute bound: every exchanged value must satisfy |v| <= DEFAULT_VALUE_BOUND. */
export const DEFAULT_VALUE_BOUND = 1e4;

/** A bound is a positive number; Infinity means "no bound". Throws RangeError otherwise. */
export function checkValueBound(bound: number): number {
  if (!(bound > 0)) throw new RangeError(`value bound must be a positive number or Infinity, got ${bound}`);
  return bound;
}

/**
 * Index of the first value that is NaN, +-Infinity or outside [-bound, bound], or -1.
 * (`v - v` is NaN exactly for NaN and +-Infinity; a bound of Infinity still refuses them.)
 */
export function firstOutOfBound(values: Float32Array, bound: number): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0 || v > bound || v < -bound) return i;
  }
  return -1;
}
