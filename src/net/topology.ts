/**
 * Wiring helpers for tests and simulations with real libp2p nodes: connect N nodes in a
 * topology, and wait until gossipsub has formed meshes for a topic.
 *
 * @example
 * ```ts
 * await connectTopology(nodes, { kind: 'random-regular', degree: 6, seed: 1 })
 * await waitForMesh(nodes, 'meshfl/updates')
 * ```
 */
import type { Libp2p } from '@libp2p/interface';
import { DIAL_CONCURRENCY, DIAL_TIMEOUT, MESH_POLL_INTERVAL, MESH_WAIT_TIMEOUT } from './constants.ts';
import { WaitTimeoutError } from './errors.ts';
import { internals } from './gossipsub-config.ts';
import type { Topology } from './graph.ts';
import { topologyEdges } from './graph.ts';
import type { GossipNode } from './libp2p-gossip.ts';
import { waitUntil } from './util.ts';

export interface ConnectOptions {
  /** Time per dial (default `DIAL_TIMEOUT`, 10 s). */
  dialTimeout?: number;
  /** Dials in flight at once (default `DIAL_CONCURRENCY`, 8). */
  concurrency?: number;
}

/** Gossipsub's default D_lo: a mesh this big is considered formed. */
const GOSSIPSUB_D_LO = 4;

/**
 * Dial the edges of `topology` over `nodes` (node i dials node j for i < j). Resolves when
 * every dial has settled; throws an AggregateError naming the failed edges.
 */
/**
 * Runs `dial` for every item, at most `concurrency` at a time (a burst of simultaneous dials
 * overwhelms small nodes); returns the items whose dial threw, with the error.
 */
export async function dialEach<T>(
  items: readonly T[],
  dial: (item: T) => Promise<unknown>,
  concurrency: number,
): Promise<Array<{ item: T; error: unknown }>> {
  const failed: Array<{ item: T; error: unknown }> = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await dial(item);
      } catch (error) {
        failed.push({ item, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return failed;
}

export async function connectTopology(
  nodes: Libp2p[],
  topology: Topology,
  options: ConnectOptions = {},
): Promise<Array<[number, number]>> {
  const edges = topologyEdges(nodes.length, topology).map(([a, b]): [number, number] => (a < b ? [a, b] : [b, a]));
  const timeout = options.dialTimeout ?? DIAL_TIMEOUT;
  const failed = await dialEach(
    edges,
    ([a, b]) => nodes[a].dial(nodes[b].getMultiaddrs(), { signal: AbortSignal.timeout(timeout) }),
    options.concurrency ?? DIAL_CONCURRENCY,
  );
  if (failed.length > 0) {
    const failures = failed.map(
      ({ item: [a, b], error }) => new Error(`dial ${a} -> ${b} failed: ${String(error)}`, { cause: error }),
    );
    throw new AggregateError(failures, `${failures.length}/${edges.length} dials failed`);
  }
  return edges;
}

export interface WaitForMeshOptions {
  /**
   * Mesh peers each subscribed node needs (default: min(4, subscribed nodes of `nodes`
   * it is connected to), i.e. gossipsub's D_lo or every subscriber it can reach).
   */
  minMeshPeers?: number;
  /** Give up after this many ms (default `MESH_WAIT_TIMEOUT`, 20 s). */
  timeout?: number;
}

/**
 * Resolve once the gossipsub mesh for `topic` is formed on every node of `nodes` that is
 * subscribed to it (unsubscribed nodes are skipped); throws WaitTimeoutError.
 */
export async function waitForMesh(nodes: GossipNode[], topic: string, options: WaitForMeshOptions = {}): Promise<void> {
  const timeout = options.timeout ?? MESH_WAIT_TIMEOUT;
  const subscribed = nodes.filter((n) => n.services.pubsub.getTopics().includes(topic));
  const ids = new Map(subscribed.map((n) => [n.peerId.toString(), n]));
  const need = (node: GossipNode): number => {
    if (options.minMeshPeers != null) return options.minMeshPeers;
    const reachable = node.getPeers().filter((p) => ids.has(p.toString())).length;
    return Math.min(GOSSIPSUB_D_LO, reachable);
  };
  const meshSize = (node: GossipNode): number => internals(node.services.pubsub).getMeshPeers(topic).length;
  try {
    await waitUntil(
      () => subscribed.every((n) => meshSize(n) >= need(n)),
      AbortSignal.timeout(timeout),
      MESH_POLL_INTERVAL,
    );
  } catch (err) {
    const sizes = subscribed.map((n) => `${meshSize(n)}/${need(n)}`);
    throw new WaitTimeoutError(`mesh for ${topic} not formed in ${timeout} ms; mesh/needed ${sizes.join(',')}`, {
      cause: err,
    });
  }
}

/**
 * Resolve once every node of `nodes` subscribed to `topic` knows every other subscribed
 * node it is connected to as a subscriber. With flood publishing (the default) that is
 * enough for a publish to reach all of them directly, even before meshes form or when a
 * peer's negative score keeps it out of a mesh. Throws WaitTimeoutError after `timeout`
 * ms; with `stallTimeout`, only once the count of unknown subscriptions has not fallen for
 * that long (so a slow but progressing start, such as 100 nodes in one busy process, is
 * waited for, and a stuck one still fails), and never later than `timeout`.
 */
export async function waitForSubscribers(
  nodes: GossipNode[],
  topic: string,
  options: { timeout?: number; stallTimeout?: number } = {},
): Promise<void> {
  const timeout = options.timeout ?? MESH_WAIT_TIMEOUT;
  const subscribed = nodes.filter((n) => n.services.pubsub.getTopics().includes(topic));
  const ids = new Set(subscribed.map((n) => n.peerId.toString()));
  const missing = (node: GossipNode): number => {
    const known = new Set(node.services.pubsub.getSubscribers(topic).map((p) => p.toString()));
    return node
      .getPeers()
      .map((p) => p.toString())
      .filter((p) => ids.has(p) && !known.has(p)).length;
  };
  const stall = options.stallTimeout;
  let fewest = Number.POSITIVE_INFINITY;
  let progressAt = performance.now();
  const stalled = new AbortController();
  const done = (): boolean => {
    let total = 0;
    for (const n of subscribed) total += missing(n);
    if (total < fewest) {
      fewest = total;
      progressAt = performance.now();
    } else if (stall !== undefined && performance.now() - progressAt > stall) {
      stalled.abort(new DOMException(`no progress for ${stall} ms`, 'TimeoutError'));
    }
    return total === 0;
  };
  try {
    await waitUntil(done, AbortSignal.any([AbortSignal.timeout(timeout), stalled.signal]), MESH_POLL_INTERVAL);
  } catch (err) {
    const why = stalled.signal.aborted ? `no progress in ${stall} ms` : `not known in ${timeout} ms`;
    throw new WaitTimeoutError(`subscriptions to ${topic} ${why}; missing ${subscribed.map(missing).join(',')}`, {
      cause: err,
    });
  }
}
