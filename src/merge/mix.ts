/**
 * A merge result written as a linear mix around own: on merged layer p,
 *
 *   x_new^p = x_own^p + sum_j coef[j][p] * (x_j^p - x_own^p)
 *
 * Weighted averages (own weight 1, candidate weights w_jp) are mixes with
 * coef = w_jp / (1 + sum_k w_kp); clipping candidate j around own by a factor f_j just
 * multiplies its coefficient by f_j. Keeping the mix as coefficients lets a rule try many
 * subsets of candidates (leave-group-out) without copying clipped models.
 */
import type { Layer, Weights } from '../model/weights.ts';
import { assemble } from './vectors.ts';

/** coef[j][p]: candidate j's coefficient on merged layer layers[p]. */
export type MixCoefficients = readonly Float64Array[];

/** Own's layout with merged layers mixed; other layers copied from own. */
export function applyMix(
  own: Weights,
  models: readonly Weights[],
  layers: readonly number[],
  coef: MixCoefficients,
): Weights {
  const position = new Map(layers.map((index, p) => [index, p]));
  return assemble(own, layers, (index) => {
    const p = position.get(index) as number;
    const base = (own[index] as Layer).values;
    const acc = Float64Array.from(base);
    for (let j = 0; j < models.length; j++) {
      const c = (coef[j] as Float64Array)[p] as number;
      if (c === 0) continue;
      const x = ((models[j] as Weights)[index] as Layer).values;
      for (let k = 0; k < acc.length; k++) acc[k] = (acc[k] as number) + c * ((x[k] as number) - (base[k] as number));
    }
    return Float32Array.from(acc);
  });
}

/**
 * Coefficients of the weighted average (own weight `ownWeight`, default 1) of the
 * `active` candidates with weights w[j][p], each pulled in by its clip factor clip[j] in (0, 1].
 */
export function averageCoefficients(
  weights: readonly Float64Array[],
  clip: ArrayLike<number>,
  active: readonly boolean[],
  layerCount: number,
  ownWeight = 1,
): Float64Array[] {
  const total = new Float64Array(layerCount).fill(ownWeight > 0 ? ownWeight : 0);
  weights.forEach((w, j) => {
    if (!active[j]) return;
    for (let p = 0; p < layerCount; p++) total[p] = (total[p] as number) + (w[p] as number);
  });
  return weights.map((w, j) => {
    const out = new Float64Array(layerCount);
    if (!active[j]) return out;
    for (let p = 0; p < layerCount; p++) {
      const t = total[p] as number;
      out[p] = t > 0 ? ((w[p] as number) * (clip[j] as number)) / t : 0;
    }
    return out;
  });
}

/** Each candidate's share of the result (its coefficient averaged over merged parameters); own gets the rest. */
export function mixShares(
  own: Weights,
  layers: readonly number[],
  coef: MixCoefficients,
): { ownShare: number; shares: number[] } {
  let params = 0;
  for (const index of layers) params += (own[index] as Layer).values.length;
  const shares = coef.map((c) => {
    if (params === 0) return 0;
    let s = 0;
    layers.forEach((index, p) => {
      s += (c[p] as number) * (own[index] as Layer).values.length;
    });
    return s / params;
  });
  return { ownShare: 1 - shares.reduce((s, v) => s + v, 0), shares };
}
