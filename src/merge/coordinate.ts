/**
 * Per-coordinate statistics across n models (median, trimmed mean): gathers the n values
 * of each coordinate into one scratch buffer, sorts it and applies `stat`.
 */
import type { Layer, Weights } from '../model/weights.ts';

export function coordinateStatistic(
  inputs: readonly Weights[],
  index: number,
  stat: (sorted: Float64Array) => number,
): Float32Array {
  const columns = inputs.map((w) => (w[index] as Layer).values);
  const size = (columns[0] as Float32Array).length;
  const scratch = new Float64Array(inputs.length);
  const out = new Float32Array(size);
  for (let e = 0; e < size; e++) {
    for (let k = 0; k < columns.length; k++) scratch[k] = (columns[k] as Float32Array)[e] as number;
    scratch.sort();
    out[e] = stat(scratch);
  }
  return out;
}
