/**
 * ClippedGossip (self-centred clipping).
 * He, Karimireddy, Jaggi, "Byzantine-Robust Decentralized Learning via ClippedGossip",
 * 2022. https://arxiv.org/abs/2202.01545
 *
 * x_i <- sum_j W_ij (x_i + clip(x_j - x_i, tau_i)), with uniform mixing weights
 * W_ij = 1 / (1 + candidates) over own and the candidates (own's clipped difference is 0),
 * i.e. x_i + (1/n) sum_j clip(x_j - x_i, tau). Norms over all merged layers together.
 * `tau`: a fixed radius, or, when not given (default), an adaptive one: the paper clips so
 * that the weight of possibly Byzantine neighbours is bounded; meshfl takes the radius as
 * the distance of the ceil(byzantineFraction * m)+1-th farthest candidate, so the assumed
 * Byzantine share of farthest candidates is clipped to it (0 if all are assumed Byzantine).
 */
import { guarded } from './guarded.ts';
import { type OptionsSpec, type Parsed, parseOptions } from './options.ts';
import type { Strategy } from './types.ts';
import { addScaledDifference, assemble, clipFactor, distanceSquaredTo, toFloat64 } from './vectors.ts';

export const CLIPPED_GOSSIP_SPEC = {
  tau: { kind: 'optional-number', min: 0, doc: 'clipping radius (default: adaptive)' },
  byzantineFraction: {
    kind: 'number',
    default: 0.2,
    min: 0,
    max: 1,
    doc: 'share of candidates assumed Byzantine (adaptive radius only)',
  },
} as const satisfies OptionsSpec;

export type ClippedGossipOptions = Parsed<typeof CLIPPED_GOSSIP_SPEC>;

/** Radius leaving the ceil(fraction * m) farthest distances clipped. */
export function adaptiveRadius(distances: readonly number[], fraction: number): number {
  const m = distances.length;
  const k = Math.ceil(fraction * m - 1e-12);
  if (k >= m) return 0;
  const descending = [...distances].sort((x, y) => y - x);
  return descending[k];
}

export function clippedGossipStrategy(options: Partial<ClippedGossipOptions> = {}): Strategy {
  const { tau, byzantineFraction } = parseOptions('clipped-gossip', CLIPPED_GOSSIP_SPEC, options);
  return guarded('clipped-gossip', (own, candidates, _ctx, layers) => {
    const x = toFloat64(own, layers);
    const distances = candidates.map((c) => Math.sqrt(distanceSquaredTo(c.weights, x, layers)));
    const radius = tau ?? adaptiveRadius(distances, byzantineFraction);
    const n = candidates.length + 1;
    const next = x.map((a) => a.slice());
    const factors = distances.map((d) => (radius === 0 ? 0 : clipFactor(d, radius)));
    candidates.forEach((c, j) => {
      addScaledDifference(next, c.weights, x, factors[j] / n, layers);
    });
    const position = new Map(layers.map((i, p) => [i, p]));
    const merged = assemble(own, layers, (i) => Float32Array.from(next[position.get(i) as number] as Float64Array));
    const used = candidates.map((c, j) => ({ peer: c.peer, seq: c.seq, share: factors[j] / n }));
    return { merged, ownShare: 1 - used.reduce((s, u) => s + u.share, 0), used };
  });
}
