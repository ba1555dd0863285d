/**
 * Which peers a shard process runs: shard i of n gets a contiguous block of the initial
 * peer indices, sizes differing by at most one. Every process computes the same blocks
 * from (peers, n), as it computes the same split, attackers and topology from the seed.
 */

export interface ShardSpec {
  /** 0-based index of this process's shard. */
  readonly index: number;
  /** Number of shard processes. */
  readonly count: number;
}

/** First peer index of shard `i` (i = count: one past the last peer). */
const blockStart = (peers: number, count: number, i: number): number => Math.floor((i * peers) / count);

export function shardPeers(peers: number, spec: ShardSpec): number[] {
  const from = blockStart(peers, spec.count, spec.index);
  const to = blockStart(peers, spec.count, spec.index + 1);
  return Array.from({ length: to - from }, (_, k) => from + k);
}

export function shardOfPeer(peers: number, count: number, peer: number): number {
  for (let i = 0; i < count; i++) if (peer < blockStart(peers, count, i + 1)) return i;
  throw new RangeError(`peer ${peer} outside 0..${peers - 1}`);
}
