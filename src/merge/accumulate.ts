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
    const x0 = xs[j];
    const x1 = xs[j + 1];
    const x2 = xs[j + 2];
    const x3 = xs[j + 3];
    const w0 = w[j];
    const w1 = w[j + 1];
    const w2 = w[j + 2];
    const w3 = w[j + 3];
    for (let e = 0, b = start; e < len; e++, b++) {
      acc[e] = acc[e] + w0 * x0[b] + w1 * x1[b] + w2 * x2[b] + w3 * x3[b];
    }
  }
  for (; j < m; j++) {
    const x = xs[j];
    const wj = w[j];
    for (let e = 0, b = start; e < len; e++, b++) acc[e] = acc[e] + wj * x[b];
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
    const x0 = xs[j];
    const x1 = xs[j + 1];
    const x2 = xs[j + 2];
    const x3 = xs[j + 3];
    const c0 = c[j];
    const c1 = c[j + 1];
    const c2 = c[j + 2];
    const c3 = c[j + 3];
    for (let e = 0, b = start; e < len; e++, b++) {
      const v = base[b];
      acc[e] = acc[e] + c0 * (x0[b] - v) + c1 * (x1[b] - v) + c2 * (x2[b] - v) + c3 * (x3[b] - v);
    }
  }
  for (; j < m; j++) {
    const x = xs[j];
    const cj = c[j];
    for (let e = 0, b = start; e < len; e++, b++) {
      acc[e] = acc[e] + cj * (x[b] - base[b]);
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
    const x0 = xs[j];
    const x1 = xs[j + 1];
    const x2 = xs[j + 2];
    const x3 = xs[j + 3];
    const w0 = w[j];
    const w1 = w[j + 1];
    const w2 = w[j + 2];
    const w3 = w[j + 3];
    for (let e = 0, b = start, col = firstCol; e < len; e++, b++) {
      acc[e] = acc[e] + w0[col] * x0[b] + w1[col] * x1[b] + w2[col] * x2[b] + w3[col] * x3[b];
      if (++col === cols) col = 0;
    }
  }
  for (; j < m; j++) {
    const x = xs[j];
    const wj = w[j];
    for (let e = 0, b = start, col = firstCol; e < len; e++, b++) {
      acc[e] = acc[e] + wj[col] * x[b];
      if (++col === cols) col = 0;
    }
  }
}
