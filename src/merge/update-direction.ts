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

/**
 * factors[j][p] for candidate j on merged layer layers[p], in [0, 1]; 1 on layers without
 * a reference and wherever D is zero (no direction to compare with).
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
  const factors = models.map(() => new Float64Array(layers.length).fill(1));
  // Whole-model sums (scope 'model'): u_j.D, |u_j|^2 per candidate and |D|^2.
  const num = new Float64Array(models.length);
  const den = new Float64Array(models.length);
  let ddAll = 0;
  let anyRef = false;
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
    anyRef = true;
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
      if (!(dd > 0)) return;
      const cos = ujSq > 0 ? (ud + f * vd) / Math.sqrt(ujSq * dd) : 0;
      (factors[j] as Float64Array)[p] = Number.isFinite(cos) ? Math.min(1, Math.max(0, cos)) : 0;
    });
  });
  if (scope === 'model' && anyRef && ddAll > 0) {
    models.forEach((_, j) => {
      const d = den[j];
      const cos = d > 0 ? num[j] / Math.sqrt(d * ddAll) : 0;
      (factors[j] as Float64Array).fill(Number.isFinite(cos) ? Math.min(1, Math.max(0, cos)) : 0);
    });
  }
  return factors;
}

/**
 * Whole-model cosine between each candidate's update x_j - ref and own's update own - ref,
 * over the merged layers that have a reference; NaN where either update is zero or no
 * layer has a reference. Unclipped: clipping scales x_j - own, not the direction of
 * x_j - ref that this measures.
 */
export function ownUpdateCosines(
  own: Weights,
  models: readonly Weights[],
  layers: readonly number[],
  ref: readonly (Float32Array | undefined)[],
): Float64Array {
  const dot = new Float64Array(models.length);
  const norm = new Float64Array(models.length);
  let ownNorm = 0;
  layers.forEach((index, p) => {
    const r = ref[p];
    if (r === undefined) return;
    const o = own[index].values;
    for (let e = 0; e < o.length; e++) ownNorm += (o[e] - r[e]) ** 2;
    models.forEach((x, j) => {
      const xv = x[index].values;
      let d = 0;
      let n = 0;
      for (let e = 0; e < xv.length; e++) {
        const v = xv[e] - r[e];
        d += v * (o[e] - r[e]);
        n += v * v;
      }
      dot[j] += d;
      norm[j] += n;
    });
  });
  return dot.map((d, j) => (ownNorm > 0 && norm[j] > 0 ? d / Math.sqrt(ownNorm * norm[j]) : Number.NaN));
}
