/**
 * Weights: the unit that is trained, encoded, gossiped and merged. An ordered list of
 * named layers, each one tensor as a flat Float32Array in row-major order with its shape.
 * Pure data: no tfjs here, so merge rules and codecs can use it anywhere.
 */
import { floatBitsMaxAbs, NON_FINITE_BITS } from './float-bits.ts';

export interface Layer {
  /** Stable name, e.g. "dense_1/kernel"; identical across peers of one architecture. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

export type Weights = readonly Layer[];

export function sizeOfShape(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function layer(name: string, shape: readonly number[], values?: Float32Array | readonly number[]): Layer {
  const size = sizeOfShape(shape);
  const data = values === undefined ? new Float32Array(size) : Float32Array.from(values);
  if (data.length !== size) {
    throw new RangeError(`layer ${name}: ${data.length} values do not fit shape [${shape.join(', ')}]`);
  }
  return { name, shape: [...shape], values: data };
}

/** Deep copy: the result shares no buffer with the input. */
export function cloneWeights(w: Weights): Weights {
  return w.map((l) => ({ name: l.name, shape: [...l.shape], values: l.values.slice() }));
}

/** Same layers (names, order and shapes) as `reference`. */
export function sameArchitecture(a: Weights, b: Weights): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x.name !== y.name || x.shape.length !== y.shape.length) return false;
    for (let d = 0; d < x.shape.length; d++) if (x.shape[d] !== y.shape[d]) return false;
  }
  return true;
}

export function parameterCount(w: Weights): number {
  let n = 0;
  for (const l of w) n += l.values.length;
  return n;
}

/** A new Weights with the same layout and the given values per layer. */
export function mapLayers(w: Weights, fn: (l: Layer, index: number) => Float32Array): Weights {
  return w.map((l, i) => {
    const values = fn(l, i);
    if (values.length !== l.values.length) throw new RangeError(`layer ${l.name}: size changed`);
    return { name: l.name, shape: [...l.shape], values };
  });
}

/**
 * All values finite (no NaN, no +-Infinity). An integer max over the float bits
 * (src/model/float-bits.ts): every message a peer sends passes through here, and this is
 * half the cost of Number.isFinite per value.
 */
export function allFinite(w: Weights): boolean {
  for (const l of w) if (floatBitsMaxAbs(l.values) >= NON_FINITE_BITS) return false;
  return true;
}

/** Concatenate all layers into one vector (copy). */
export function flatten(w: Weights): Float32Array {
  const out = new Float32Array(parameterCount(w));
  let o = 0;
  for (const l of w) {
    out.set(l.values, o);
    o += l.values.length;
  }
  return out;
}

/** Inverse of `flatten` for the layout of `template`. */
export function unflatten(template: Weights, flat: Float32Array): Weights {
  if (flat.length !== parameterCount(template)) {
    throw new RangeError(`unflatten: ${flat.length} values for ${parameterCount(template)} parameters`);
  }
  let o = 0;
  return template.map((l) => {
    const values = flat.slice(o, o + l.values.length);
    o += l.values.length;
    return { name: l.name, shape: [...l.shape], values };
  });
}
