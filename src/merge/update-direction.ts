/**
 * L-DAWA on updates (merge v2). L-DAWA (Rehman et al., ICCV 2023) weighs a client's layer
 * by the cosine between its weights and the global model's. There is no global model in
 * a mesh, and from a shared initialisation raw-weight cosines are ~1 for everyone, so
 * meshfl compares this round's *updates* instead, per layer: the candidate's update
 * u_j = y_j - ref (y_j = own + clip_j (x_j - own), its model clipped around own; ref =
 * own before local training) against a direction D:
 *   - 'own':       D = own's update u = own - ref;
 *   - 'consensus': D = the mean of own's and the admitted candidates' (clipped) updates.
 * factor_jl = max(0, cos(u_j, D)). Under class-sharded data the head update of a peer
 * with other classes points away from own's (measured cosines 0.00 in the output layer
 * from round 0 here), so 'own' stops peers from learning each other's classes;
 * the consensus keeps every honest specialist positive while a sign-flipped update still
 * points away from it as long as honest updates outweigh the flipped ones.
 */
import type { Weights } from '../model/weights.ts';

export type UpdateDirection = 'own' | 'consensus' | 'median';

/** Reference layers matched by name and length to the merged layers of own; undefined where missing. */
export function referenceLayers(
  own: Weights,
  reference: Weights | undefined,
  layers: readonly number[],
): (Float32Array | undefined)[] | undefined {
  if (reference === undefined) return undefined;
  const byName = new Map(reference.map((l) => [l.name, l]));
  return layers.map((i) => {
    const l = own[i];
    const r = byName.get(l.name);
    return r !== undefined && r.values.length === l.values.length ? r.values : undefined;
  });
}

/** Raw cosines of each candidate's update with the direction D (./updateCosines). */
export interface UpdateCosines {
  /** perLayer[j][p]: cos(u_j, D) on merged layer layers[p]; NaN without a reference or where D or u_j is zero. */
  readonly perLayer: Float64Array[];
  /** model[j]: the same over every merged layer with a reference; NaN where undefined. */
  readonly model: Float64Array;
  /** Per merged layer: D is non-zero there (a direction to compare with). */
  readonly layerDefined: boolean[];
  /** D is non-zero on some layer. */
  readonly modelDefined: boolean;
}

/**
 * The cosines of each candidate's (clipped) update u_j = own + clip_j (x_j - own) - ref with
 * the direction D, per layer and over the whole model, unclamped.
 */
export function updateCosines(
  own: Weights,
  models: readonly Weights[],
  layers: readonly number[],
  ref: readonly (Float32Array | undefined)[],
  clip: ArrayLike<number>,
  active: readonly boolean[],
  direction: UpdateDirection,
): UpdateCosines {
  const perLayer = models.map(() => new Float64Array(layers.length).fill(Number.NaN));
  const layerDefined = layers.map(() => false);
  // Whole-model sums: u_j.D, |u_j|^2 per candidate and |D|^2.
  const num = new Float64Array(models.length);
  const den = new Float64Array(models.length);
  let ddAll = 0;
  const activeCount = active.filter(Boolean).length;
  layers.forEach((index, p) => {
    const r = ref[p];
    if (r === undefined) return;
    const o = own[index].values;
    const len = o.length;
    // D = u + (direction 'consensus') sum_k f_k v_k / (active + 1), v_k = x_k - own.
    const D = new Float64Array(len);
    for (let e = 0; e < len; e++) D[e] = o[e] - r[e];
    if (direction === 'median') {
      // Coordinate-wise median of own's and the active candidates' clipped updates.
      const xs = models.flatMap((x, k) => (active[k] ? [{ x: x[index].values, f: clip[k] }] : []));
      const scratch = new Float64Array(xs.length + 1);
      const mid = scratch.length >> 1;
      for (let e = 0; e < len; e++) {
        const u = D[e];
        const oe = o[e];
        scratch[0] = u;
        for (let k = 0; k < xs.length; k++) {
          const c = xs[k] as { x: Float32Array; f: number };
          scratch[k + 1] = u + c.f * (c.x[e] - oe);
        }
        scratch.sort();
        D[e] = scratch.length % 2 === 1 ? scratch[mid] : (scratch[mid - 1] + scratch[mid]) / 2;
      }
    } else if (direction === 'consensus') {
      const scale = 1 / (activeCount + 1);
      models.forEach((x, k) => {
        if (!active[k]) return;
        const f = clip[k] * scale;
        const xv = x[index].values;
        for (let e = 0; e < len; e++) D[e] = D[e] + f * (xv[e] - o[e]);
      });
    }
    let dd = 0;
    let ud = 0;
    for (let e = 0; e < len; e++) {
      const d = D[e];
      dd += d * d;
      ud += (o[e] - r[e]) * d;
    }
    ddAll += dd;
    layerDefined[p] = dd > 0;
    let uu = 0;
    for (let e = 0; e < len; e++) uu += (o[e] - r[e]) ** 2;
    models.forEach((x, j) => {
      const xv = x[index].values;
      let vd = 0;
      let uv = 0;
      let vv = 0;
      for (let e = 0; e < len; e++) {
        const v = xv[e] - o[e];
        vd += v * D[e];
        uv += (o[e] - r[e]) * v;
        vv += v * v;
      }
      const f = clip[j];
      const ujSq = uu + 2 * f * uv + f * f * vv;
      num[j] = num[j] + ud + f * vd;
      den[j] = den[j] + ujSq;
      if (dd > 0 && ujSq > 0) (perLayer[j] as Float64Array)[p] = (ud + f * vd) / Math.sqrt(ujSq * dd);
    });
  });
  const model = Float64Array.from(den, (d, j) => (d > 0 && ddAll > 0 ? num[j] / Math.sqrt(d * ddAll) : Number.NaN));
  return { perLayer, model, layerDefined, modelDefined: ddAll > 0 };
}

/**
 * factors[j][p] for candidate j on merged layer layers[p], in [0, 1]: max(0, cos); 1 on
 * layers without a reference and wherever D is zero (no direction to compare with), 0
 * where the candidate's update is zero or the cosine is not finite.
 */
export function updateFactors(
  own: Weights,
  models: readonly Weights[],
  layers: readonly number[],
  ref: readonly (Float32Array | undefined)[],
  clip: ArrayLike<number>,
  active: readonly boolean[],
  direction: UpdateDirection,
  scope: 'layer' | 'model' = 'layer',
): Float64Array[] {
  const { perLayer, model, layerDefined, modelDefined } = updateCosines(
    own,
    models,
    layers,
    ref,
    clip,
    active,
    direction,
  );
  const clamp = (c: number): number => (Number.isFinite(c) ? Math.min(1, Math.max(0, c)) : 0);
  return models.map((_, j) =>
    scope === 'model' && modelDefined
      ? new Float64Array(layers.length).fill(clamp(model[j]))
      : Float64Array.from(perLayer[j], (c, p) => (layerDefined[p] ? clamp(c) : 1)),
  );
}
