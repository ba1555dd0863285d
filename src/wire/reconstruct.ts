/**
 * x̂ + q, the one addition every CHOCO participant performs. Sender and receivers use this
 * same function on the same float32 inputs, so their public copies stay bit-identical.
 */
import type { Weights } from '../model/weights.ts';
import { fail } from './errors.ts';

/** Throws DecodeError('non-finite') if fround(copy + delta) overflows anywhere. Allocates nothing. */
export function checkReconstruction(copy: Weights, delta: Weights): void {
  for (let l = 0; l < copy.length; l++) {
    const a = (copy[l] as Weights[number]).values;
    const b = (delta[l] as Weights[number]).values;
    for (let i = 0; i < a.length; i++) {
      const s = Math.fround((a[i] as number) + (b[i] as number));
      if (s - s !== 0) fail('non-finite', `layer ${l} value ${i}: public copy + delta overflows to ${s}`);
    }
  }
}

/** A new Weights copy + delta (float32). Throws DecodeError('non-finite') on overflow. */
export function addDelta(copy: Weights, delta: Weights): Weights {
  return copy.map((layer, l) => {
    const a = layer.values;
    const b = (delta[l] as Weights[number]).values;
    const out = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) + (b[i] as number);
    for (let i = 0; i < out.length; i++) {
      const v = out[i] as number;
      if (v - v !== 0) fail('non-finite', `layer ${l} value ${i}: public copy + delta overflows to ${v}`);
    }
    return { name: layer.name, shape: [...layer.shape], values: out };
  });
}
