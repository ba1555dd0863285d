/**
 * x̂ + q, the one addition every CHOCO participant performs. Sender and receivers use this
 * same function on the same float32 inputs, so their public copies stay bit-identical.
 */
import type { Weights } from '../model/weights.ts';
import { fail } from './errors.ts';

/**
 * Checks fround(copy + delta) without allocating: DecodeError('non-finite') if it overflows
 * anywhere, DecodeError('out-of-range') if a value leaves [-bound, bound] (default: no
 * bound). Returns the L2 norm of each reconstructed layer.
 */
export function checkReconstruction(copy: Weights, delta: Weights, bound = Number.POSITIVE_INFINITY): Float64Array {
  const norms = new Float64Array(copy.length);
  for (let l = 0; l < copy.length; l++) {
    const a = copy[l].values;
    const b = delta[l].values;
    let sq = 0;
    for (let i = 0; i < a.length; i++) {
      const s = Math.fround(a[i] + b[i]);
      if (s - s !== 0 || s > bound || s < -bound) outside(l, i, s, bound);
      sq += s * s;
    }
    norms[l] = Math.sqrt(sq);
  }
  return norms;
}

function outside(l: number, i: number, s: number, bound: number): never {
  if (s - s !== 0) fail('non-finite', `layer ${l} value ${i}: public copy + delta overflows to ${s}`);
  return fail('out-of-range', `layer ${l} value ${i}: public copy + delta is ${s}, outside +-${bound}`);
}

/**
 * A new Weights copy + delta (float32). Throws DecodeError('non-finite') on overflow and
 * DecodeError('out-of-range') on a value outside [-bound, bound] (default: no bound).
 */
export function addDelta(copy: Weights, delta: Weights, bound = Number.POSITIVE_INFINITY): Weights {
  return copy.map((layer, l) => {
    const a = layer.values;
    const b = delta[l].values;
    const out = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
    for (let i = 0; i < out.length; i++) {
      const v = out[i];
      if (v - v !== 0 || v > bound || v < -bound) outside(l, i, v, bound);
    }
    return { name: layer.name, shape: [...layer.shape], values: out };
  });
}

/**
 * Checks a reconstructed copy as addDelta would have while computing it (another party
 * computed it: shared-copies.ts): DecodeError('non-finite') or ('out-of-range').
 */
export function checkCopy(copy: Weights, bound = Number.POSITIVE_INFINITY): void {
  for (let l = 0; l < copy.length; l++) {
    const a = copy[l].values;
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (v - v !== 0 || v > bound || v < -bound) outside(l, i, v, bound);
    }
  }
}
