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
import { addWeightedDifferences, TILE } from './accumulate.ts';
import { assemble } from './vectors.ts';

/** coef[j][p]: candidate j's coefficient on merged layer layers[p]. */
export type MixCoefficients = readonly Float64Array[];

/** The candidates with a nonzero coefficient on layer position p, and those coefficients (in order). */
function activeTerms(
  models: readonly Weights[],
  index: number,
  coef: MixCoefficients,
  p: number,
  sign = 1,
): { xs: Float32Array[]; c: number[] } {
  const xs: Float32Array[] = [];
  const c: number[] = [];
  for (let j = 0; j < models.length; j++) {
    const cj = (coef[j] as Float64Array)[p] as number;
    if (cj === 0) continue;
    xs.push(((models[j] as Weights)[index] as Layer).values);
    c.push(sign * cj);
  }
  return { xs, c };
}

/**
 * Own's layout with merged layers mixed; other layers copied from own. One pass over the
 * candidates per tile of values (src/merge/accumulate.ts), no model-sized intermediate.
 */
export function applyMix(
  own: Weights,
  models: readonly Weights[],
  layers: readonly number[],
  coef: MixCoefficients,
): Weights {
  const position = new Map(layers.map((index, p) => [index, p]));
  return assemble(own, layers, (index) => {
    const base = (own[index] as Layer).values;
    const { xs, c } = activeTerms(models, index, coef, position.get(index) as number);
    const n = base.length;
    const out = new Float32Array(n);
    const acc = new Float64Array(Math.min(n, TILE));
    for (let start = 0; start < n; start += TILE) {
      const len = Math.min(TILE, n - start);
      for (let e = 0; e < len; e++) acc[e] = base[start + e] as number;
      addWeightedDifferences(acc, xs, c, base, start, len);
      for (let e = 0; e < len; e++) out[start + e] = acc[e] as number;
    }
    return out;
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

/**
 * Leave-one-group-out mixes without redoing the whole average for each group. With
 * D^p = sum_{j in S} c_jp (x_j - own) the full mix's displacement and T_p its total weight,
 * leaving g out gives own + (T_p / T'_p) (D^p - sum_{j in g} c_jp (x_j - own)), where T'_p
 * = T_p - sum_{j in g} w_jp. One pass over the active candidates builds D, then each group
 * costs only its own members: O((n + sum |g|) d) instead of O(G n d).
 */
export class LeaveOutMixer {
  readonly #own: Weights;
  readonly #models: readonly Weights[];
  readonly #layers: readonly number[];
  readonly #weights: readonly Float64Array[];
  readonly #total: Float64Array;
  readonly #coef: Float64Array[];
  readonly #delta: Float64Array[];

  constructor(
    own: Weights,
    models: readonly Weights[],
    layers: readonly number[],
    weights: readonly Float64Array[],
    clip: ArrayLike<number>,
    active: readonly boolean[],
    ownWeight = 1,
  ) {
    this.#own = own;
    this.#models = models;
    this.#layers = layers;
    this.#weights = weights;
    this.#coef = averageCoefficients(weights, clip, active, layers.length, ownWeight);
    this.#total = new Float64Array(layers.length).fill(ownWeight > 0 ? ownWeight : 0);
    weights.forEach((w, j) => {
      if (!active[j]) return;
      for (let p = 0; p < layers.length; p++) this.#total[p] = (this.#total[p] as number) + (w[p] as number);
    });
    this.#delta = layers.map((index, p) => {
      const base = (own[index] as Layer).values;
      const d = new Float64Array(base.length);
      const { xs, c } = activeTerms(models, index, this.#coef, p);
      for (let start = 0; start < d.length; start += TILE) {
        const len = Math.min(TILE, d.length - start);
        addWeightedDifferences(d.subarray(start, start + len), xs, c, base, start, len);
      }
      return d;
    });
  }

  /** The full mix (every active candidate). */
  full(): Weights {
    const position = new Map(this.#layers.map((index, p) => [index, p]));
    return assemble(this.#own, this.#layers, (index) => {
      const base = (this.#own[index] as Layer).values;
      const d = this.#delta[position.get(index) as number] as Float64Array;
      const out = new Float32Array(base.length);
      for (let k = 0; k < out.length; k++) out[k] = (base[k] as number) + (d[k] as number);
      return out;
    });
  }

  /**
   * The mix without the candidates in `group` (all of them active): D minus the group's
   * terms (added with negated coefficients, which is the same float64 arithmetic as
   * subtracting), rescaled, tile by tile.
   */
  without(group: readonly number[]): Weights {
    const position = new Map(this.#layers.map((index, p) => [index, p]));
    return assemble(this.#own, this.#layers, (index) => {
      const p = position.get(index) as number;
      const base = (this.#own[index] as Layer).values;
      const d = this.#delta[p] as Float64Array;
      let removed = 0;
      for (const j of group) removed += (this.#weights[j] as Float64Array)[p] as number;
      const groupModels = group.map((j) => this.#models[j] as Weights);
      const groupCoef = group.map((j) => this.#coef[j] as Float64Array);
      const { xs, c } = activeTerms(groupModels, index, groupCoef, p, -1);
      const total = this.#total[p] as number;
      const rest = total - removed;
      const scale = rest > 0 ? total / rest : 0;
      const n = base.length;
      const out = new Float32Array(n);
      const acc = new Float64Array(Math.min(n, TILE));
      for (let start = 0; start < n; start += TILE) {
        const len = Math.min(TILE, n - start);
        for (let e = 0; e < len; e++) acc[e] = d[start + e] as number;
        addWeightedDifferences(acc, xs, c, base, start, len);
        for (let e = 0; e < len; e++) out[start + e] = (base[start + e] as number) + scale * (acc[e] as number);
      }
      return out;
    });
  }
}
