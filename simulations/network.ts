/**
 * The transport of a simulation: N gossips wired in a seeded topology, over libp2p
 * (memory transport or TCP on 127.0.0.1) or the in-process Bus. Peers can be added later
 * (churn joins) and removed (churn leaves); close() stops everything that is left.
 */

import { createMemoryLibp2p, createNodeLibp2p, type MeshflNode } from '../node/node-factory.ts';
import { createRng, type Rng } from '../src/data/rng.ts';
import type { Gossip } from '../src/net/gossip.ts';
import type { Topology } from '../src/net/graph.ts';
import { Bus } from '../src/net/inproc-bus.ts';
import { createLibp2pGossip, type Libp2pGossip } from '../src/net/libp2p-gossip.ts';
import { connectTopology, waitForSubscribers } from '../src/net/topology.ts';
import type { Transport } from './scenario.ts';

/**
 * Every subscriber learns of every connected subscriber: the wait fails once no
 * subscription has been learned for this long. A fixed total (60 s before) was too short
 * for 30 libp2p nodes in one process on a loaded 2-core machine (load 19: creating them
 * and dialling the overlay alone took 55 s), though subscriptions were still arriving.
 */
const SUBSCRIBE_STALL_MS = 60_000;
/** ...and never takes longer than this in all. */
const SUBSCRIBE_TIMEOUT_MS = 30 * 60_000;
/** Time for one dial of a joining node. */
const JOIN_DIAL_TIMEOUT_MS = 10_000;

export interface SimNetwork {
  readonly gossips: Gossip[];
  /** Adds a node linked to about `degree` existing ones; returns its gossip. */
  add(): Promise<Gossip>;
  /** Stops one node (it leaves the overlay). */
  remove(gossip: Gossip): Promise<void>;
  /** Resolves once subscribers of `topic` know each other (libp2p); immediate on the bus. */
  ready(topic: string): Promise<void>;
  close(): Promise<void>;
  /** Peers run by other processes (shard mode): peer id -> peer index, known after `ready`. */
  remotePeers?(): ReadonlyMap<string, number>;
  /** Every local peer ran its rounds (or the run was aborted): shard mode waits for the other processes. */
  settle?(aborted: boolean): Promise<void>;
}

export async function createNetwork(
  transport: Transport,
  size: number,
  topology: Topology,
  seed: number,
): Promise<SimNetwork> {
  switch (transport) {
    case 'inproc':
      return busNetwork(size, topology);
    case 'libp2p-memory':
      return libp2pNetwork(size, topology, seed, () => createMemoryLibp2p());
    case 'libp2p-tcp':
      return libp2pNetwork(size, topology, seed, () =>
        createNodeLibp2p({ loopback: true, listen: ['/ip4/127.0.0.1/tcp/0'] }),
      );
    default: {
      const never: never = transport;
      throw new Error(`unknown transport ${String(never)}`);
    }
  }
}

function busNetwork(size: number, topology: Topology): SimNetwork {
  const bus = new Bus({ topology });
  let next = 0;
  const join = (): Gossip => bus.join(`p${next++}`);
  const gossips = Array.from({ length: size }, join);
  return {
    gossips,
    add: async () => join(),
    remove: (g) => g.stop(),
    ready: async () => {},
    close: () => bus.stop(),
  };
}

async function libp2pNetwork(
  size: number,
  topology: Topology,
  seed: number,
  createNode: () => Promise<MeshflNode>,
): Promise<SimNetwork> {
  const live: Libp2pGossip[] = [];
  const rng: Rng = createRng(seed).fork('joins');
  try {
    for (let i = 0; i < size; i++) live.push(await createLibp2pGossip(await createNode()));
    await connectTopology(
      live.map((g) => g.node),
      topology,
    );
  } catch (err) {
    await Promise.allSettled(live.map((g) => g.stop()));
    throw err;
  }
  const degree = topology.kind === 'full' ? Number.POSITIVE_INFINITY : topology.degree;
  return {
    gossips: [...live],
    async add() {
      const g = await createLibp2pGossip(await createNode());
      const others = [...live];
      const targets: Libp2pGossip[] = [];
      while (others.length > 0 && targets.length < degree) targets.push(others.splice(rng.int(others.length), 1)[0]);
      live.push(g);
      for (const t of targets)
        await g.node.dial(t.node.getMultiaddrs(), { signal: AbortSignal.timeout(JOIN_DIAL_TIMEOUT_MS) });
      return g;
    },
    async remove(gossip) {
      const at = live.indexOf(gossip as Libp2pGossip);
      if (at >= 0) live.splice(at, 1);
      await gossip.stop();
    },
    ready: (topic) =>
      waitForSubscribers(
        live.map((g) => g.node),
        topic,
        { timeout: SUBSCRIBE_TIMEOUT_MS, stallTimeout: SUBSCRIBE_STALL_MS },
      ),
    async close() {
      const all = live.splice(0);
      await Promise.allSettled(all.map((g) => g.stop()));
    },
  };
}
