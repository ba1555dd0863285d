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
import type { ClassScores, LinearInputEvaluator } from '../model/evaluation.ts';
import type { Weights } from '../model/weights.ts';
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
    const cj = (coef[j] as Float64Array)[p];
    if (cj === 0) continue;
    xs.push(models[j][index].values);
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
    const base = own[index].values;
    const { xs, c } = activeTerms(models, index, coef, position.get(index) as number);
    const n = base.length;
    const out = new Float32Array(n);
    const acc = new Float64Array(Math.min(n, TILE));
    for (let start = 0; start < n; start += TILE) {
      const len = Math.min(TILE, n - start);
      for (let e = 0; e < len; e++) acc[e] = base[start + e];
      addWeightedDifferences(acc, xs, c, base, start, len);
      for (let e = 0; e < len; e++) out[start + e] = acc[e];
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
    for (let p = 0; p < layerCount; p++) total[p] = total[p] + w[p];
  });
  return weights.map((w, j) => {
    const out = new Float64Array(layerCount);
    if (!active[j]) return out;
    for (let p = 0; p < layerCount; p++) {
      const t = total[p];
      out[p] = t > 0 ? (w[p] * clip[j]) / t : 0;
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
  for (const index of layers) params += own[index].values.length;
  const shares = coef.map((c) => {
    if (params === 0) return 0;
    let s = 0;
    layers.forEach((index, p) => {
      s += c[p] * own[index].values.length;
    });
    return s / params;
  });
  return { ownShare: 1 - shares.reduce((s, v) => s + v, 0), shares };
}

/** base + d, rounded to float32. */
function plus(base: Float32Array, d: Float64Array): Float32Array {
  const out = new Float32Array(base.length);
  for (let k = 0; k < out.length; k++) out[k] = base[k] + d[k];
  return out;
}

/**
 * base + scale (d - sum_j c_j (xs_j - base)) with c already negated, tile by tile, rounded
 * to float32, into `out` (a new array unless given).
 */
function minusTerms(
  base: Float32Array,
  d: Float64Array,
  xs: Float32Array[],
  c: number[],
  scale: number,
  out: Float32Array = new Float32Array(base.length),
): Float32Array {
  const n = base.length;
  if (xs.length === 1) {
    // One term (a singleton group, the usual case): the same float64 operations in the same
    // order as the tiled path below, in one sweep.
    const x = xs[0];
    const c0 = c[0];
    for (let k = 0; k < n; k++) {
      const v = base[k];
      out[k] = v + scale * (d[k] + c0 * (x[k] - v));
    }
    return out;
  }
  const acc = new Float64Array(Math.min(n, TILE));
  for (let start = 0; start < n; start += TILE) {
    const len = Math.min(TILE, n - start);
    for (let e = 0; e < len; e++) acc[e] = d[start + e];
    addWeightedDifferences(acc, xs, c, base, start, len);
    for (let e = 0; e < len; e++) out[start + e] = base[start + e] + scale * acc[e];
  }
  return out;
}

/** sum_j c_j (xs_j - base) in float64, tile by tile. */
function displacement(base: Float32Array, xs: Float32Array[], c: number[]): Float64Array {
  const d = new Float64Array(base.length);
  for (let start = 0; start < d.length; start += TILE) {
    const len = Math.min(TILE, d.length - start);
    addWeightedDifferences(d.subarray(start, start + len), xs, c, base, start, len);
  }
  return d;
}

/**
 * The first layer's pre-activations of own and of each candidate on the validation inputs
 * (LinearInputEvaluator), and the full mix's displacement of them.
 */
interface Projected {
  readonly evaluator: LinearInputEvaluator;
  /** Index of the first layer's kernel in own, and its position in `layers`. */
  readonly index: number;
  readonly position: number;
  readonly own: Float32Array;
  /** P(x_j) for candidates with a nonzero coefficient on the kernel. */
  readonly models: readonly (Float32Array | undefined)[];
  readonly delta: Float64Array;
}

/**
 * Leave-one-group-out mixes without redoing the whole average for each group. With
 * D^p = sum_{j in S} c_jp (x_j - own) the full mix's displacement and T_p its total weight,
 * leaving g out gives own + (T_p / T'_p) (D^p - sum_{j in g} c_jp (x_j - own)), where T'_p
 * = T_p - sum_{j in g} w_jp. One pass over the active candidates builds D, then each group
 * costs only its own members: O((n + sum |g|) d) instead of O(G n d).
 *
 * Scoring (fullScores, withoutScores) with a LinearInputEvaluator (the model starts with a
 * dense layer on the input, MergeContext.linearInput): the first layer's pre-activation is
 * linear in its kernel, so the same algebra runs on P(x) = X K_x (validation samples x
 * units) instead of the kernel (inputs x units), and no mix's kernel is built or multiplied
 * by X. The scores then differ from scoring the materialized mix only by float32 rounding
 * (the mix of products instead of the product of the mix).
 */
export class LeaveOutMixer {
  readonly #own: Weights;
  readonly #models: readonly Weights[];
  readonly #layers: readonly number[];
  readonly #weights: readonly Float64Array[];
  readonly #total: Float64Array;
  readonly #coef: Float64Array[];
  /** D per merged layer position (empty for the projected kernel, which is never materialized). */
  readonly #delta: Float64Array[];
  readonly #position: Map<number, number>;
  readonly #projected: Projected | undefined;
  /** Output buffers of #scores, by layer index (-1: the projection). */
  readonly #buffers = new Map<number, Float32Array>();

  constructor(
    own: Weights,
    models: readonly Weights[],
    layers: readonly number[],
    weights: readonly Float64Array[],
    clip: ArrayLike<number>,
    active: readonly boolean[],
    ownWeight = 1,
    linear?: LinearInputEvaluator,
  ) {
    this.#own = own;
    this.#models = models;
    this.#layers = layers;
    this.#weights = weights;
    this.#position = new Map(layers.map((index, p) => [index, p]));
    this.#coef = averageCoefficients(weights, clip, active, layers.length, ownWeight);
    this.#total = new Float64Array(layers.length).fill(ownWeight > 0 ? ownWeight : 0);
    weights.forEach((w, j) => {
      if (!active[j]) return;
      for (let p = 0; p < layers.length; p++) this.#total[p] = this.#total[p] + w[p];
    });
    const kernel = linear === undefined ? -1 : own.findIndex((l) => l.name === linear.kernel);
    const kernelPosition = this.#position.get(kernel);
    if (linear !== undefined && kernelPosition !== undefined) {
      const projectedModels = models.map((m, j) =>
        this.#coef[j][kernelPosition] === 0 ? undefined : linear.project(m[kernel].values),
      );
      const pOwn = linear.project(own[kernel].values);
      const { xs, c } = this.#terms(projectedModels, kernelPosition);
      this.#projected = {
        evaluator: linear,
        index: kernel,
        position: kernelPosition,
        own: pOwn,
        models: projectedModels,
        delta: displacement(pOwn, xs, c),
      };
    } else {
      this.#projected = undefined;
    }
    this.#delta = layers.map((index, p) => {
      if (this.#projected?.index === index) return new Float64Array(0);
      const { xs, c } = activeTerms(models, index, this.#coef, p);
      return displacement(own[index].values, xs, c);
    });
  }

  /** The arrays and coefficients of the candidates with a nonzero coefficient at position p, among `arrays` (by candidate). */
  #terms(
    arrays: readonly (Float32Array | undefined)[],
    p: number,
    group?: readonly number[],
    sign = 1,
  ): { xs: Float32Array[]; c: number[] } {
    const xs: Float32Array[] = [];
    const c: number[] = [];
    for (const j of group ?? arrays.keys()) {
      const cj = this.#coef[j][p];
      const x = arrays[j];
      if (cj === 0 || x === undefined) continue;
      xs.push(x);
      c.push(sign * cj);
    }
    return { xs, c };
  }

  /** T_p / T'_p for leaving `group` out, at merged layer position p. */
  #scale(group: readonly number[], p: number): number {
    let removed = 0;
    for (const j of group) removed += this.#weights[j][p];
    const total = this.#total[p];
    const rest = total - removed;
    return rest > 0 ? total / rest : 0;
  }

  /** The mix without `group` (empty: the full mix) on merged layer `index`, into `out` if given. */
  #layer(index: number, group: readonly number[], out?: Float32Array): Float32Array {
    const p = this.#position.get(index) as number;
    const base = this.#own[index].values;
    const d = this.#delta[p];
    if (group.length === 0) return plus(base, d);
    // The group's terms added with negated coefficients: the same float64 arithmetic as subtracting.
    const groupModels = group.map((j) => this.#models[j]);
    const groupCoef = group.map((j) => this.#coef[j]);
    const { xs, c } = activeTerms(groupModels, index, groupCoef, p, -1);
    return minusTerms(base, d, xs, c, this.#scale(group, p), out);
  }

  /** The full mix (every active candidate). */
  full(): Weights {
    return assemble(this.#own, this.#layers, (index) => this.#layer(index, []));
  }

  /**
   * The mix without the candidates in `group` (all of them active): D minus the group's
   * terms, rescaled, tile by tile.
   */
  without(group: readonly number[]): Weights {
    return assemble(this.#own, this.#layers, (index) => this.#layer(index, group));
  }

  /** Scores of the full mix: `evaluate(full())`, or from the projections (see the class comment). */
  fullScores(evaluate: (w: Weights) => ClassScores): ClassScores {
    return this.#scores([], evaluate);
  }

  /** Scores of the mix without `group`: `evaluate(without(group))`, or from the projections. */
  withoutScores(group: readonly number[], evaluate: (w: Weights) => ClassScores): ClassScores {
    return this.#scores(group, evaluate);
  }

  #scores(group: readonly number[], evaluate: (w: Weights) => ClassScores): ClassScores {
    const projected = this.#projected;
    if (projected === undefined) return evaluate(group.length === 0 ? this.full() : this.without(group));
    const { position: p, own: pOwn, delta } = projected;
    // The evaluator copies what it is given before returning, so one set of buffers serves
    // every mix this mixer scores (no allocation per group).
    const buffer = (i: number, n: number): Float32Array => {
      let b = this.#buffers.get(i);
      if (b === undefined) {
        b = new Float32Array(n);
        this.#buffers.set(i, b);
      }
      return b;
    };
    let z: Float32Array;
    if (group.length === 0) z = plus(pOwn, delta);
    else {
      const { xs, c } = this.#terms(projected.models, p, group, -1);
      z = minusTerms(pOwn, delta, xs, c, this.#scale(group, p), buffer(-1, pOwn.length));
    }
    // Layers the evaluator reads: the mixed ones, except the kernel (own's stands in, unread).
    const w = this.#own.map((l, i) =>
      i === projected.index || !this.#position.has(i)
        ? l
        : { name: l.name, shape: l.shape, values: this.#layer(i, group, buffer(i, l.values.length)) },
    );
    return projected.evaluator.evaluateProjected(z, w);
  }
}
