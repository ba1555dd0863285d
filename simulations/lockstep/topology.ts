/**
 * Who hears whom in a lockstep run. Links are undirected: neighbours[i] lists the peers
 * whose models peer i receives each round (never i itself).
 */
import type { Rng } from '../../src/data/rng.ts';

/** Pairings tried before settling for a graph with a few missing links. */
const PAIRING_ATTEMPTS = 200;

/** Everyone hears everyone. */
export function fullTopology(peers: number): number[][] {
  return Array.from({ length: peers }, (_, i) => Array.from({ length: peers - 1 }, (_, k) => (k < i ? k : k + 1)));
}

/**
 * A seeded random graph where every peer has `degree` neighbours ("-ish"): the
 * configuration model (degree stubs per peer, shuffled and paired), retried until the
 * pairing has no self-loop or repeated link. If no attempt succeeds (or peers * degree is
 * odd), the last pairing is used with its bad pairs dropped, so a few peers have one or
 * two neighbours fewer.
 */
export function randomRegularTopology(peers: number, degree: number, rng: Rng): number[][] {
  if (!(Number.isInteger(degree) && degree >= 1 && degree < peers)) {
    throw new RangeError(`topology: degree must be an integer in [1, ${peers - 1}], got ${degree}`);
  }
  let links: Set<number>[] = [];
  for (let attempt = 0; attempt < PAIRING_ATTEMPTS; attempt++) {
    const stubs = rng.shuffle(Array.from({ length: peers * degree }, (_, s) => Math.floor(s / degree)));
    links = Array.from({ length: peers }, () => new Set<number>());
    let simple = stubs.length % 2 === 0;
    for (let s = 0; s + 1 < stubs.length; s += 2) {
      const a = stubs[s] as number;
      const b = stubs[s + 1] as number;
      if (a === b || (links[a] as Set<number>).has(b)) {
        simple = false;
        continue;
      }
      (links[a] as Set<number>).add(b);
      (links[b] as Set<number>).add(a);
    }
    if (simple) break;
  }
  return links.map((set) => [...set].sort((x, y) => x - y));
}
