/**
 * Colluder grouping: candidates whose models lie within rho * m of each other (m = the
 * median distance of the candidates to own) are joined into one group (union-find over
 * pairs, transitively), and every member weighs 1/|group|. Identical copies sent by
 * colluding identities then count as one voter, whatever their number.
 * Idea: FoolsGold (Fung, Yoon, Beschastnikh, "The Limitations of Federated Learning in
 * Sybil Settings", RAID 2020, https://arxiv.org/abs/1808.04866), which down-weights
 * clients whose updates are too similar; meshfl groups by distance instead of cosine.
 *
 * Pairwise distances are O(n^2 d); the triangle inequality |d_j - d_k| <= ||x_j - x_k||
 * prunes every pair whose distances to own already differ by more than the radius.
 */
import type { Weights } from '../model/weights.ts';
import { distanceSquaredWithin } from './vectors.ts';

export interface ColluderGroups {
  /** group[j]: the group index of candidate j (groups numbered 0.. in order of first member). */
  readonly group: Int32Array;
  /** members[g]: candidate indices of group g, ascending. */
  readonly members: readonly (readonly number[])[];
  /** Pairwise distances actually computed (after pruning), for cost reports and tests. */
  readonly pairsMeasured: number;
}

function find(parent: Int32Array, i: number): number {
  let r = i;
  while (parent[r] !== r) r = parent[r];
  // Path compression keeps later finds O(1).
  let k = i;
  while (parent[k] !== r) {
    const next = parent[k];
    parent[k] = r;
    k = next;
  }
  return r;
}

/**
 * Groups of candidates within `radius` of each other. `distances[j]` = ||x_j - own|| (used
 * for pruning only). A radius <= 0 gives singletons except for exact copies (distance 0).
 */
export function colluderGroups(
  models: readonly Weights[],
  distances: readonly number[],
  layers: readonly number[],
  radius: number,
): ColluderGroups {
  return groupsWithin(models, distances, layers, () => radius);
}

/**
 * Near-copies: candidates j, k with ||x_j - x_k|| <= share * min(d_j, d_k), joined
 * transitively. The radius is each pair's own distance to own, not a median over every
 * candidate: scaled models far away would otherwise inflate the median until honest models
 * close to own looked like copies of each other (scaling 1e3 at D = 8, seed 3, round 0).
 */
export function nearCopyGroups(
  models: readonly Weights[],
  distances: readonly number[],
  layers: readonly number[],
  share: number,
): ColluderGroups {
  return groupsWithin(models, distances, layers, (dj) => share * dj);
}

/**
 * Union-find over pairs within radiusFor(d_j) of each other, d_j the nearer of the pair to
 * own (candidates are visited in ascending distance, so d_j <= d_k).
 */
function groupsWithin(
  models: readonly Weights[],
  distances: readonly number[],
  layers: readonly number[],
  radiusFor: (dj: number) => number,
): ColluderGroups {
  const n = models.length;
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  // Sorting by distance to own lets the inner loop stop once the pruning bound fails.
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => distances[x] - distances[y] || x - y);
  let pairsMeasured = 0;
  for (let a = 0; a < n; a++) {
    const j = order[a];
    const dj = distances[j];
    const radius = Math.max(radiusFor(dj), 0);
    const r2 = radius * radius;
    for (let b = a + 1; b < n; b++) {
      const k = order[b];
      if (distances[k] - dj > radius) break;
      if (find(parent, j) === find(parent, k)) continue;
      pairsMeasured++;
      if (distanceSquaredWithin(models[j], models[k], layers, r2)) {
        parent[find(parent, k)] = find(parent, j);
      }
    }
  }
  const group = new Int32Array(n);
  const byRoot = new Map<number, number>();
  const members: number[][] = [];
  for (let j = 0; j < n; j++) {
    const root = find(parent, j);
    let g = byRoot.get(root);
    if (g === undefined) {
      g = members.length;
      byRoot.set(root, g);
      members.push([]);
    }
    group[j] = g;
    members[g].push(j);
  }
  return { group, members, pairsMeasured };
}
