/**
 * Clusters of `Gossip` nodes for behavioural tests that run unchanged against every
 * implementation (the in-process Bus and libp2p over the memory transport).
 */
import type { Gossip, GossipMessage } from '../../src/net/gossip.ts';
import { Bus } from '../../src/net/inproc-bus.ts';
import type { Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { createLibp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { createMemoryLibp2p } from '../../src/net/memory-factory.ts';
import { connectTopology, waitForSubscribers } from '../../src/net/topology.ts';

/** Generous: the CI machine is slow and busy. */
export const WAIT = 30_000;

export interface Cluster {
  gossips: Gossip[];
  /** Resolves once a publish on `topic` reaches every subscribed node (subscriptions propagated). */
  ready(topic: string): Promise<void>;
  stop(): Promise<void>;
}

export interface Implementation {
  name: string;
  cluster(n: number): Promise<Cluster>;
}

export const busImpl: Implementation = {
  name: 'inproc-bus',
  async cluster(n) {
    const bus = new Bus();
    const gossips = Array.from({ length: n }, (_, i) => bus.join(`peer-${i}`));
    return { gossips, ready: async () => {}, stop: () => bus.stop() };
  },
};

export const memoryImpl: Implementation = {
  name: 'libp2p-memory',
  async cluster(n) {
    const gossips: Libp2pGossip[] = [];
    try {
      for (let i = 0; i < n; i++) gossips.push(await createLibp2pGossip(await createMemoryLibp2p()));
      await connectTopology(
        gossips.map((g) => g.node),
        { kind: 'full' },
      );
    } catch (err) {
      await Promise.all(gossips.map((g) => g.stop()));
      throw err;
    }
    return {
      gossips,
      ready: (topic) =>
        waitForSubscribers(
          gossips.map((g) => g.node),
          topic,
          { timeout: WAIT },
        ),
      stop: async () => {
        await Promise.all(gossips.map((g) => g.stop()));
      },
    };
  },
};

/** Poll `condition` until true; fail with `what` after `timeout` ms. */
export async function eventually(condition: () => boolean, what: string, timeout = WAIT): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A handler that records messages. */
export function recorder(): { messages: GossipMessage[]; handler: (m: GossipMessage) => void } {
  const messages: GossipMessage[] = [];
  return { messages, handler: (m) => messages.push(m) };
}

export function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
