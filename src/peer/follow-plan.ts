/**
 * Which peers to follow and unfollow at a round start, given the peers followed now and the
 * neighbours the sampler wants (docs/PROTOCOL.md "Neighbours", step 2). Pure logic.
 *
 * Every new followee costs a snapshot (its answer to the follow is the whole public copy,
 * about four int8 deltas), so how often followees change decides a peer's bytes per round.
 * The sampler's view changes with N: at 10 peers a peer follows 8 of its 9 possible
 * neighbours, so a reseeded slot seldom changes one, while at 100 peers every reseed, and
 * every better-ranked id still spreading in the first rounds, brings a new one (measured:
 * 0.37 against 1.99 new followees per peer per round over 10 rounds, docs/PERFORMANCE.md).
 * So replacements are capped by a budget that does not depend on N (one per reshuffle
 * period, set by the caller), and the followees follow the sampler's view at that pace.
 * Filling a free place (fewer followees than the sampler offers: the first round, or after
 * a followee failed) is not capped.
 */

export interface FollowPlan {
  /** Peers to follow now, in the sampler's order. */
  readonly follow: string[];
  /** Followees to drop now (oldest first). */
  readonly unfollow: string[];
}

/**
 * @param following the followees now, oldest first
 * @param wanted the sampler's neighbours (at most D, distinct)
 * @param swaps how many followees may be replaced (the round's remaining budget)
 */
export function planFollows(following: readonly string[], wanted: readonly string[], swaps: number): FollowPlan {
  const wantedSet = new Set(wanted);
  const followingSet = new Set(following);
  // Followees the sampler no longer wants stay until replaced: they still push, and a peer
  // keeps min(D, known) neighbours.
  const stale = following.filter((p) => !wantedSet.has(p));
  const fresh = wanted.filter((p) => !followingSet.has(p));
  const free = Math.max(0, wanted.length - following.length);
  const fill = fresh.slice(0, free);
  const replace = Math.max(0, Math.min(swaps, fresh.length - fill.length, stale.length));
  return {
    follow: [...fill, ...fresh.slice(fill.length, fill.length + replace)],
    unfollow: stale.slice(0, replace),
  };
}
