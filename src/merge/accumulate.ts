/**
 * Accumulation loops of the mean-style merges (weighted averages and mixes around own), one
 * pass over the candidates with no model-sized intermediate: the caller walks a layer in
 * tiles of TILE values and keeps one float64 tile of sums, which stays in L1 while every
 * candidate is added to it, then writes the float32 result directly. The loops take four
 * candidates per sweep, so each sum is loaded and stored once per four candidates instead
 * of once per candidate.
 *
 * Results are bit-identical to adding the candidates one at a time in index order: each
 * sum is still s = s + term_0, then + term_1, ... (float64 addition is not associative, so
 * the order is kept, not the grouping of terms).
 */

/** Values per tile: 2048 float64 sums = 16 KiB, well inside a 32 KiB L1 data cache. */
export const TILE = 2048;

/** acc[e] += sum over j (in order) of w[j] * xs[j][start + e], for e < len. */
export function addWeighted(
  acc: Float64Array,
  xs: readonly Float32Array[],
  w: readonly number[],
  start: number,
  len: number,
): void {
  const m = xs.length;
  let j = 0;
  for (; j + 3 < m; j += 4) {
    const x0 = xs[j] as Float32Array;
    const x1 = xs[j + 1] as Float32Array;
    const x2 = xs[j + 2] as Float32Array;
    const x3 = xs[j + 3] as Float32Array;
    const w0 = w[j] as number;
    const w1 = w[j + 1] as number;
    const w2 = w[j + 2] as number;
    const w3 = w[j + 3] as number;
    for (let e = 0, b = start; e < len; e++, b++) {
      acc[e] =
        (acc[e] as number) +
        w0 * (x0[b] as number) +
        w1 * (x1[b] as number) +
        w2 * (x2[b] as number) +
        w3 * (x3[b] as number);
    }
  }
  for (; j < m; j++) {
    const x = xs[j] as Float32Array;
    const wj = w[j] as number;
    for (let e = 0, b = start; e < len; e++, b++) acc[e] = (acc[e] as number) + wj * (x[b] as number);
  }
}

/** acc[e] += sum over j (in order) of c[j] * (xs[j][start + e] - base[start + e]), for e < len. */
export function addWeightedDifferences(
  acc: Float64Array,
  xs: readonly Float32Array[],
  c: readonly number[],
  base: Float32Array,
  start: number,
  len: number,
): void {
  const m = xs.length;
  let j = 0;
  for (; j + 3 < m; j += 4) {
    const x0 = xs[j] as Float32Array;
    const x1 = xs[j + 1] as Float32Array;
    const x2 = xs[j + 2] as Float32Array;
    const x3 = xs[j + 3] as Float32Array;
    const c0 = c[j] as number;
    const c1 = c[j + 1] as number;
    const c2 = c[j + 2] as number;
    const c3 = c[j + 3] as number;
    for (let e = 0, b = start; e < len; e++, b++) {
      const v = base[b] as number;
      acc[e] =
        (acc[e] as number) +
        c0 * ((x0[b] as number) - v) +
        c1 * ((x1[b] as number) - v) +
        c2 * ((x2[b] as number) - v) +
        c3 * ((x3[b] as number) - v);
    }
  }
  for (; j < m; j++) {
    const x = xs[j] as Float32Array;
    const cj = c[j] as number;
    for (let e = 0, b = start; e < len; e++, b++) {
      acc[e] = (acc[e] as number) + cj * ((x[b] as number) - (base[b] as number));
    }
  }
}

/**
 * acc[e] += sum over j (in order) of w[j][col] * xs[j][start + e], where col = (start + e)
 * mod cols: weights per output column (the last axis), as per-class weights of an output layer.
 */
export function addColumnWeighted(
  acc: Float64Array,
  xs: readonly Float32Array[],
  w: readonly Float64Array[],
  cols: number,
  start: number,
  len: number,
): void {
  const m = xs.length;
  const firstCol = start % cols;
  let j = 0;
  for (; j + 3 < m; j += 4) {
    const x0 = xs[j] as Float32Array;
    const x1 = xs[j + 1] as Float32Array;
    const x2 = xs[j + 2] as Float32Array;
    const x3 = xs[j + 3] as Float32Array;
    const w0 = w[j] as Float64Array;
    const w1 = w[j + 1] as Float64Array;
    const w2 = w[j + 2] as Float64Array;
    const w3 = w[j + 3] as Float64Array;
    for (let e = 0, b = start, col = firstCol; e < len; e++, b++) {
      acc[e] =
        (acc[e] as number) +
        (w0[col] as number) * (x0[b] as number) +
        (w1[col] as number) * (x1[b] as number) +
        (w2[col] as number) * (x2[b] as number) +
        (w3[col] as number) * (x3[b] as number);
      if (++col === cols) col = 0;
    }
  }
  for (; j < m; j++) {
    const x = xs[j] as Float32Array;
    const wj = w[j] as Float64Array;
    for (let e = 0, b = start, col = firstCol; e < len; e++, b++) {
      acc[e] = (acc[e] as number) + (wj[col] as number) * (x[b] as number);
      if (++col === cols) col = 0;
    }
  }
}
