/**
 * Per-coordinate statistics across n models (median, trimmed mean): gathers the n values
 * of each coordinate into one scratch buffer, sorts it and applies `stat`.
 */

/** Below this many inputs an inline insertion sort beats calling the native sort per coordinate. */
const INSERTION_SORT_MAX = 48;

function insertionSort(a: Float64Array): void {
  for (let i = 1; i < a.length; i++) {
    const v = a[i];
    let j = i - 1;
    while (j >= 0 && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

import type { Weights } from '../model/weights.ts';

export function coordinateStatistic(
  inputs: readonly Weights[],
  index: number,
  stat: (sorted: Float64Array) => number,
): Float32Array {
  const columns = inputs.map((w) => w[index].values);
  const size = columns[0].length;
  const scratch = new Float64Array(inputs.length);
  const out = new Float32Array(size);
  for (let e = 0; e < size; e++) {
    for (let k = 0; k < columns.length; k++) scratch[k] = columns[k][e];
    if (scratch.length <= INSERTION_SORT_MAX) insertionSort(scratch);
    else scratch.sort();
    out[e] = stat(scratch);
  }
  return out;
}
