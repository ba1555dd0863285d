/**
 * The network of one strategy in one shard process: libp2p TCP nodes for this shard's
 * peers only, linked to their neighbours in the scenario's seeded topology wherever those
 * run. Every shard computes the same topology over all peer indices; the addresses of
 * other shards' nodes come from their rosters (through the hubs). `ready` returns once
 * every peer of every shard is listed, every local node is connected to all its
 * neighbours and knows them as subscribers, and every shard says the same; `settle`
 * holds the nodes up until every shard's peers ran their rounds.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { createNodeLibp2p } from '../../node/node-factory.ts';
import type { Gossip } from '../../src/net/gossip.ts';
import type { Topology } from '../../src/net/graph.ts';
import { topologyEdges } from '../../src/net/graph.ts';
import { createLibp2pGossip, type Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { dialEach } from '../../src/net/topology.ts';
import type { SimNetwork } from '../network.ts';
import type { Hub } from './hub.ts';
import { compareProgress, type Phase, type RosterEntry, type ShardState } from './protocol.ts';

/**
 * Time for every shard to list its nodes. Includes the other processes starting up
 * (loading data and tfjs; on two machines, the user starting the second one).
 */
export const ROSTER_TIMEOUT_MS = 300_000;
/** Time for every local node to be connected to (and know the subscription of) all its neighbours. */
export const CONNECT_TIMEOUT_MS = 60_000;
/** Time for every shard to report its nodes connected. */
export const READY_TIMEOUT_MS = 120_000;
/**
 * Cap on waiting for the other shards' peers to finish a strategy. They may still be
 * training for hours; a shard that died is caught sooner by the hub's silence timeout.
 */
export const DONE_TIMEOUT_MS = 24 * 3600_000;
/** Time for one dial of a neighbour node, and attempts per neighbour. */
const NEIGHBOUR_DIAL_TIMEOUT_MS = 10_000;
const NEIGHBOUR_DIAL_ATTEMPTS = 3;
/** Dials in flight at once. */
const DIAL_CONCURRENCY = 8;

export interface ShardNetworkInit {
  readonly hub: Hub;
  /** Index of the strategy among the scenario's strategies. */
  readonly strategy: number;
  /** Peer indices of this shard's initial peers, in the order of `gossips`. */
  readonly local: readonly number[];
  /** Initial peers of the whole scenario (all shards). */
  readonly peers: number;
  /** Peer index -> shard that runs it. */
  readonly shardOf: (peer: number) => number;
  readonly topology: Topology;
  /** Listen address of the simulation nodes, e.g. /ip4/127.0.0.1/tcp/0. */
  readonly listen: string;
  readonly signal: AbortSignal | undefined;
  readonly log: (line: string) => void;
}

export interface ShardNetwork extends SimNetwork {
  /** Nodes of other shards: peer id -> peer index (after `ready`). */
  remotePeers(): ReadonlyMap<string, number>;
  /** Every local peer ran its rounds: wait until every shard's did (or report an abort). */
  settle(aborted: boolean): Promise<void>;
}

const describePeers = (peers: number[], shardOf: (p: number) => number): string => {
  const byShard = new Map<number, number[]>();
  for (const p of peers) byShard.set(shardOf(p), [...(byShard.get(shardOf(p)) ?? []), p]);
  return [...byShard].map(([s, list]) => `peer(s) ${list.join(', ')} of shard ${s}`).join('; ');
};

/**
 * This shard's roster plus the other shards' for `strategy`. Each shard may list only its
 * own peers (an index in 0..peers-1 that `shardOf` maps to it): anything else throws, and
 * a remote entry never replaces a local one.
 */
export function mergeRosters(
  local: ReadonlyMap<number, RosterEntry>,
  others: readonly Pick<ShardState, 'shard' | 'progress' | 'roster'>[],
  strategy: number,
  peers: number,
  shardOf: (peer: number) => number,
): Map<number, RosterEntry> {
  const all = new Map(local);
  for (const o of others) {
    if (o.progress?.strategy !== strategy) continue;
    for (const [key, entry] of Object.entries(o.roster)) {
      const p = Number(key);
      if (!Number.isInteger(p) || p < 0 || p >= peers)
        throw new Error(`shard ${o.shard}'s roster lists peer ${key}, outside 0..${peers - 1}`);
      if (shardOf(p) !== o.shard)
        throw new Error(`shard ${o.shard}'s roster lists peer ${p}, which shard ${shardOf(p)} runs`);
      if (!local.has(p)) all.set(p, entry);
    }
  }
  return all;
}

export async function createShardNetwork(init: ShardNetworkInit): Promise<ShardNetwork> {
  const { hub, strategy, local, shardOf } = init;
  const gossips: Libp2pGossip[] = [];
  try {
    for (let i = 0; i < local.length; i++)
      gossips.push(await createLibp2pGossip(await createNodeLibp2p({ loopback: true, listen: [init.listen] })));
  } catch (err) {
    await Promise.allSettled(gossips.map((g) => g.stop()));
    throw err;
  }
  const byIndex = new Map(local.map((p, i) => [p, gossips[i]]));
  const live = new Set(gossips);
  let roster = new Map<number, RosterEntry>();
  const edges = topologyEdges(init.peers, init.topology);
  const neighbours = new Map<number, number[]>();
  for (const [a, b] of edges) {
    neighbours.set(a, [...(neighbours.get(a) ?? []), b]);
    neighbours.set(b, [...(neighbours.get(b) ?? []), a]);
  }
  const atLeast = (phase: Phase): string | null => {
    const behind: number[] = [];
    for (let s = 0; s < hub.current().shards; s++) {
      if (s === hub.current().shard) continue;
      const o = hub.others().find((x) => x.shard === s);
      if (!o || compareProgress(o.progress, { strategy, phase }) < 0) behind.push(s);
    }
    return behind.length === 0 ? null : `shard(s) ${behind.join(', ')} to reach "${phase}" of strategy ${strategy}`;
  };

  const collectRoster = (): string | null => {
    const own = new Map<number, RosterEntry>();
    for (const [p, g] of byIndex) own.set(p, { id: g.id, addrs: g.node.getMultiaddrs().map((a) => a.toString()) });
    const all = mergeRosters(own, hub.others(), strategy, init.peers, shardOf);
    const missing = Array.from({ length: init.peers }, (_, p) => p).filter((p) => !all.has(p));
    if (missing.length > 0) return describePeers(missing, shardOf);
    roster = all;
    return null;
  };

  const dialNeighbours = async (): Promise<void> => {
    // Like connectTopology: the lower index of an edge dials the higher.
    const outgoing = edges.map(([a, b]): [number, number] => (a < b ? [a, b] : [b, a])).filter(([a]) => byIndex.has(a));
    const dialWithRetries = async ([a, b]: [number, number]): Promise<void> => {
      const addrs = (roster.get(b) as RosterEntry).addrs.map((s) => multiaddr(s));
      for (let attempt = 1; ; attempt++) {
        try {
          await byIndex.get(a)?.node.dial(addrs, { signal: AbortSignal.timeout(NEIGHBOUR_DIAL_TIMEOUT_MS) });
          return;
        } catch (err) {
          if (attempt >= NEIGHBOUR_DIAL_ATTEMPTS) throw err;
        }
      }
    };
    const failed = await dialEach(outgoing, dialWithRetries, DIAL_CONCURRENCY);
    if (failed.length > 0) {
      const failures = failed.map(
        ({ item: [a, b], error }) => `peer ${a} -> peer ${b} (shard ${shardOf(b)}): ${String(error)}`,
      );
      throw new Error(
        `${failures.length}/${outgoing.length} neighbour dials failed: ${failures.slice(0, 5).join('; ')}`,
      );
    }
  };

  const unconnected = (topic: string): string | null => {
    const missing: string[] = [];
    for (const [p, g] of byIndex) {
      const subscribers = new Set(g.node.services.pubsub.getSubscribers(topic).map((x) => x.toString()));
      for (const q of neighbours.get(p) ?? []) {
        const id = (roster.get(q) as RosterEntry).id;
        if (g.node.getConnections(peerIdFromString(id)).length === 0) missing.push(`${p}-${q} (not connected)`);
        else if (!subscribers.has(id)) missing.push(`${p}-${q} (subscription not known)`);
      }
    }
    return missing.length === 0
      ? null
      : `links ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}`;
  };

  return {
    gossips: [...gossips],
    async add(): Promise<Gossip> {
      // Refused up front by the command (churn joins in shard mode); kept as a guard.
      throw new Error('churn joins are not supported in shard mode');
    },
    async remove(gossip) {
      live.delete(gossip as Libp2pGossip);
      await gossip.stop();
    },
    async ready(topic) {
      hub.update({
        progress: { strategy, phase: 'roster' },
        roster: Object.fromEntries(
          [...byIndex].map(([p, g]) => [
            String(p),
            { id: g.id, addrs: g.node.getMultiaddrs().map((a) => a.toString()) },
          ]),
        ),
      });
      try {
        await hub.waitFor(
          `strategy ${strategy}: roster`,
          () => {
            const missing = collectRoster();
            return missing === null ? null : `${missing} to be listed`;
          },
          ROSTER_TIMEOUT_MS,
          init.signal,
        );
        await dialNeighbours();
        await hub.waitFor(
          `strategy ${strategy}: connecting neighbours`,
          () => unconnected(topic),
          CONNECT_TIMEOUT_MS,
          init.signal,
        );
        hub.update({ progress: { strategy, phase: 'ready' } });
        await hub.waitFor(`strategy ${strategy}: ready`, () => atLeast('ready'), READY_TIMEOUT_MS, init.signal);
      } catch (err) {
        if (init.signal?.aborted) return; // interrupted here or elsewhere: the runner winds down
        throw err;
      }
      const remote = [...roster.keys()].filter((p) => !byIndex.has(p)).length;
      init.log(`strategy ${strategy}: ${local.length} local and ${remote} remote peers connected, starting rounds`);
    },
    remotePeers() {
      return new Map([...roster].filter(([p]) => !byIndex.has(p)).map(([p, e]) => [e.id, p]));
    },
    async settle(aborted) {
      if (aborted) {
        hub.update({ aborted: true });
        return;
      }
      hub.update({ progress: { strategy, phase: 'done' } });
      try {
        await hub.waitFor(`strategy ${strategy}: done`, () => atLeast('done'), DONE_TIMEOUT_MS, init.signal);
      } catch (err) {
        if (init.signal?.aborted) {
          hub.update({ aborted: true });
          return;
        }
        throw err;
      }
    },
    async close() {
      const all = [...live];
      live.clear();
      await Promise.allSettled(all.map((g) => g.stop()));
    },
  };
}
