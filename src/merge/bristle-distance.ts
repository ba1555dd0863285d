/**
 * Bristle distance-based prioritizer.
 * Verbraeken, de Vos, Pouwelse: "Bristle: Decentralized Federated Learning in Byzantine,
 * Non-i.i.d. Environments", 2021. https://arxiv.org/abs/2110.11006
 *
 * d_j = ||x_j - x_own||_2 over the merged (exchanged) layers. Candidates sorted by d_j are
 * split into thirds (near, mid, far); the closest round((1-a)^2 N) of the near third,
 * round(2a(1-a) N) of the mid third and round(a^2 N) of the far third go on (N=10, a=0.4:
 * 4 + 5 + 2): mostly exploit similar peers, keep exploring far ones.
 *
 * meshfl: with at most N candidates all go on (nothing to save); when a third has fewer
 * candidates than its quota, the unused quota passes to the next third outwards, then
 * inwards, so min(n, quota total) are chosen. Ties in distance break by peer id then seq,
 * so the choice is deterministic and independent of arrival order.
 */
import type { Weights } from '../model/weights.ts';
import { type OptionsSpec, type Parsed, parseOptions } from './options.ts';
import type { Prioritizer } from './pipeline.ts';
import type { Candidate } from './types.ts';
import { distanceSquared } from './vectors.ts';

export const BRISTLE_DISTANCE_SPEC = {
  N: { kind: 'number', default: 10, min: 1, integer: true, doc: 'number of candidates to keep (about)' },
  a: { kind: 'number', default: 0.4, min: 0, max: 1, doc: 'exploration: share drawn towards far candidates' },
} as const satisfies OptionsSpec;

export type BristleDistanceOptions = Parsed<typeof BRISTLE_DISTANCE_SPEC>;

/** Quotas for the near, mid and far thirds. */
export function thirdQuotas(N: number, a: number): [number, number, number] {
  return [Math.round((1 - a) ** 2 * N), Math.round(2 * a * (1 - a) * N), Math.round(a * a * N)];
}

/** Sizes of the near, mid and far thirds of n sorted candidates (near gets the remainder first). */
export function thirdSizes(n: number): [number, number, number] {
  const base = Math.floor(n / 3);
  const r = n % 3;
  return [base + (r >= 1 ? 1 : 0), base + (r >= 2 ? 1 : 0), base];
}

function byPeerThenSeq(x: Candidate, y: Candidate): number {
  return x.peer < y.peer ? -1 : x.peer > y.peer ? 1 : x.seq - y.seq;
}

/** Candidates sorted by distance to own, nearest first (ties by peer id, then seq). */
export function sortByDistance(own: Weights, candidates: readonly Candidate[], layers: readonly number[]): Candidate[] {
  const d = new Map<Candidate, number>();
  for (const c of candidates) d.set(c, distanceSquared(own, c.weights, layers));
  return [...candidates].sort((x, y) => (d.get(x) as number) - (d.get(y) as number) || byPeerThenSeq(x, y));
}

/** How many to take from each third: quotas capped by sizes, unused quota moved to other thirds. */
export function takePerThird(sizes: readonly number[], quotas: readonly number[]): number[] {
  const take = sizes.map((s, t) => Math.min(s, quotas[t]));
  let spare = quotas.reduce((x, y) => x + y, 0) - take.reduce((x, y) => x + y, 0);
  // Outwards first (near -> mid -> far), then back inwards: exploration quota stays exploratory.
  for (const t of [0, 1, 2, 1, 0]) {
    const room = sizes[t] - take[t];
    const add = Math.min(room, spare);
    take[t] = take[t] + add;
    spare -= add;
  }
  return take;
}

export function bristleDistance(options: Partial<BristleDistanceOptions> = {}): Prioritizer {
  const { N, a } = parseOptions('bristle-distance', BRISTLE_DISTANCE_SPEC, options);
  const quotas = thirdQuotas(N, a);
  return (own, candidates, _ctx, layers) => {
    const sorted = sortByDistance(own, candidates, layers);
    if (sorted.length <= N) return sorted;
    const sizes = thirdSizes(sorted.length);
    const take = takePerThird(sizes, quotas);
    const chosen: Candidate[] = [];
    let start = 0;
    for (let t = 0; t < 3; t++) {
      chosen.push(...sorted.slice(start, start + take[t]));
      start += sizes[t];
    }
    return chosen;
  };
}
