/**
 * L-DAWA: Layer-wise Divergence Aware Weight Aggregation.
 * Rehman, Hassan, Tejedor, Ulusoy, Wang (ICCV 2023). https://arxiv.org/abs/2307.07393
 *
 * Per candidate j and layer l: delta_j^l = cos(x_j^l, x_ref^l). The paper's reference is
 * the global model and it aggregates w_g = (1/K) sum_k delta_k w_k.
 *
 * meshfl (decentralized): the reference is the merging peer's own model; delta is clipped
 * to [0, 1] (an update pointing away is not pulled in); a zero-norm layer (own or
 * candidate, e.g. a zero-initialised output layer) gets factor 1, left unscaled. The
 * factors multiply the integrator's weights, and `combine` normalises by 1 + sum of
 * weights, so the model does not shrink as the paper's 1/K form would.
 * `warmupRounds`: the paper runs plain FedAvg for the first 2 rounds, because its reference
 * (the global model) means little before any aggregation; while ctx.round < warmupRounds the
 * factors are all 1. meshfl default 0: the reference here is the peer's own model, which is
 * meaningful from round 0 (all peers start from one seeded initialisation), and with a
 * warm-up Byzantine models (e.g. sign-flipped, cosine ~ -1) enter the first merges unopposed:
 * in a measured run such merges in rounds 0-1 collapsed an honest peer (docs/RESULTS.md,
 * "History").
 */
import type { Weights } from '../model/weights.ts';
import { type OptionsSpec, type Parsed, parseOptions } from './options.ts';
import type { Adjuster } from './pipeline.ts';
import { dot } from './vectors.ts';
import { scaleWeighting } from './weighting.ts';

export const LDAWA_SPEC = {
  warmupRounds: {
    kind: 'number',
    default: 0,
    min: 0,
    integer: true,
    doc: 'rounds (ctx.round < warmupRounds) in which factors are 1',
  },
} as const satisfies OptionsSpec;

export type LdawaOptions = Parsed<typeof LDAWA_SPEC>;

/** cos(x, ref) clipped to [0, 1]; 1 when either vector has zero norm. `refNormSq` may be precomputed. */
export function ldawaFactor(x: Float32Array, ref: Float32Array, refNormSq: number = dot(ref, ref)): number {
  // One pass for both sums: this runs once per candidate and layer over every parameter.
  let xx = 0;
  let xr = 0;
  for (let k = 0; k < x.length; k++) {
    const v = x[k];
    xx += v * v;
    xr += v * ref[k];
  }
  if (xx === 0 || refNormSq === 0) return 1;
  return Math.min(1, Math.max(0, xr / Math.sqrt(xx * refNormSq)));
}

export function ldawa(options: Partial<LdawaOptions> = {}): Adjuster {
  const { warmupRounds } = parseOptions('ldawa', LDAWA_SPEC, options);
  return (own: Weights, weighting, ctx) => {
    if (ctx.round < warmupRounds) return weighting;
    const ownNormSq = weighting.layers.map((i) => dot(own[i].values, own[i].values));
    const factors = weighting.candidates.map((c) =>
      weighting.layers.map((i, p) => ldawaFactor(c.weights[i].values, own[i].values, ownNormSq[p])),
    );
    return scaleWeighting(weighting, (j, p) => factors[j][p]);
  };
}

/**
 * L-DAWA on updates (merge v2): cos(u_j, u) clamped to [0, 1] for one layer, where
 * u = own - reference is own's update this round and u_j = y_j - reference the
 * candidate's update after clipping around own, y_j = own + clip * (x_j - own), so
 * u_j = u + clip * v with v = x_j - own. From the three dot products of u and v alone:
 * no vector is materialised. 1 when own did not move (no direction to compare with);
 * 0 when the clipped candidate sits exactly at the reference.
 */
export function updateCosine(uu: number, uv: number, vv: number, clip: number): number {
  if (!(uu > 0)) return 1;
  const ujNormSq = uu + 2 * clip * uv + clip * clip * vv;
  if (!(ujNormSq > 0)) return 0;
  const cos = (uu + clip * uv) / Math.sqrt(uu * ujNormSq);
  return Number.isFinite(cos) ? Math.min(1, Math.max(0, cos)) : 0;
}
