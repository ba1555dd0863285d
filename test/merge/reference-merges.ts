/**
 * The mean-style merge loops as they were before the tiled one-pass versions (commit
 * 5c7ae4c), written the straightforward way: a float64 accumulator the size of the layer,
 * one candidate at a time, in order. The oracle for test/merge/accumulate.test.ts, which
 * expects the same bits. Do not optimise this file.
 */
import type { Weighting } from '../../src/merge/weighting.ts';
import type { Weights } from '../../src/model/weights.ts';

function values(w: Weights, i: number): Float32Array {
  return w[i].values;
}

export function referenceWeightedAverage(inputs: readonly Weights[], weights: readonly number[], index: number) {
  const n = values(inputs[0], index).length;
  const acc = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < inputs.length; k++) {
    const w = weights[k];
    if (w === 0) continue;
    total += w;
    const x = values(inputs[k], index);
    for (let e = 0; e < n; e++) acc[e] = acc[e] + w * x[e];
  }
  const out = new Float32Array(n);
  for (let e = 0; e < n; e++) out[e] = acc[e] / total;
  return out;
}

/** applyMix on one layer: own + sum_j coef[j] (x_j - own). */
export function referenceMixLayer(own: Weights, models: readonly Weights[], index: number, coef: readonly number[]) {
  const base = values(own, index);
  const acc = Float64Array.from(base);
  for (let j = 0; j < models.length; j++) {
    const c = coef[j];
    if (c === 0) continue;
    const x = values(models[j], index);
    for (let k = 0; k < acc.length; k++) acc[k] = acc[k] + c * (x[k] - base[k]);
  }
  return Float32Array.from(acc);
}

/**
 * LeaveOutMixer.without on one layer: D = sum over all j of coef[j] (x_j - own), minus the
 * group's terms one by one, scaled by total / (total - removed weight), added to own.
 */
export function referenceWithoutLayer(
  own: Weights,
  models: readonly Weights[],
  index: number,
  coef: readonly number[],
  group: readonly number[],
  scale: number,
) {
  const base = values(own, index);
  const d = new Float64Array(base.length);
  for (let j = 0; j < models.length; j++) {
    const c = coef[j];
    if (c === 0) continue;
    const x = values(models[j], index);
    for (let k = 0; k < d.length; k++) d[k] = d[k] + c * (x[k] - base[k]);
  }
  for (const j of group) {
    const c = coef[j];
    if (c === 0) continue;
    const x = values(models[j], index);
    for (let k = 0; k < d.length; k++) d[k] = d[k] - c * (x[k] - base[k]);
  }
  return Float32Array.from(base, (v, k) => v + scale * d[k]);
}

function safe(w: number): number {
  return w > 0 && Number.isFinite(w) ? w : 0;
}

/** combine() on merged layer position p. */
export function referenceCombineLayer(own: Weights, weighting: Weighting, p: number): Float32Array {
  const index = weighting.layers[p];
  const ownLayer = own[index];
  const n = ownLayer.values.length;
  const cols = ownLayer.shape.length === 0 ? 1 : ownLayer.shape[ownLayer.shape.length - 1];
  const acc = Float64Array.from(ownLayer.values);
  const total = new Float64Array(cols).fill(1);
  for (let j = 0; j < weighting.candidates.length; j++) {
    const x = values(weighting.candidates[j]?.weights, index);
    const w = weighting.weights[j][p];
    if (w.kind === 'scalar') {
      const s = safe(w.value);
      if (s === 0) continue;
      for (let k = 0; k < n; k++) acc[k] = acc[k] + s * x[k];
      for (let c = 0; c < cols; c++) total[c] = total[c] + s;
    } else {
      for (let k = 0, c = 0; k < n; k++) {
        acc[k] = acc[k] + safe(w.values[c]) * x[k];
        if (++c === cols) c = 0;
      }
      for (let c = 0; c < cols; c++) total[c] = total[c] + safe(w.values[c]);
    }
  }
  const out = new Float32Array(n);
  for (let k = 0, c = 0; k < n; k++) {
    out[k] = acc[k] / total[c];
    if (++c === cols) c = 0;
  }
  return out;
}
