/**
 * Gossip benchmark: time for one update to reach every peer, and bytes sent per peer per
 * update, over libp2p (memory transport and TCP on 127.0.0.1) and the in-process bus.
 *
 * Run: npm exec -- node simulations/bench/gossip.ts [--quick] [--json]
 *
 * Bytes for libp2p are gossipsub RPC bytes (its `rpcSentBytes` metric: every message
 * copy, IHAVE/IWANT/IDONTWANT and heartbeat control in the window) plus payload-protocol
 * bytes for announced updates; noise/yamux framing is not counted. Bus bytes are payload
 * bytes of every copy sent.
 */
import { performance } from 'node:perf_hooks';
import type { GossipsubOpts } from '@libp2p/gossipsub';
import { createNodeLibp2p } from '../../node/node-factory.ts';
import { INLINE_LIMIT } from '../../src/net/constants.ts';
import { Bus } from '../../src/net/inproc-bus.ts';
import type { Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { createLibp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { createMemoryLibp2p } from '../../src/net/memory-factory.ts';
import { connectTopology, waitForMesh } from '../../src/net/topology.ts';

const DEGREE = 8;
const SEED = 1;
/** Updates per cell: [full run, --quick]. */
const REPS_BY_MODE = [3, 2] as const;
const DELIVERY_TIMEOUT = 120_000;
/** Time after delivery for duplicates and IDONTWANT/IHAVE traffic to finish before counting bytes. */
const SETTLE_MS = 500;
const TOPIC = 'meshfl/bench';

export interface GossipResult {
  transport: 'memory' | 'tcp' | 'bus';
  peers: number;
  bytes: number;
  /** How the payload travelled: inline in the gossip message, or announced and fetched. */
  path: 'inline' | 'announce';
  /** Median ms from publish to the last peer's handler. */
  msToAll: number;
  /** Mean bytes sent per peer per update. */
  bytesPerPeer: number;
  /** bytesPerPeer / payload size. */
  amplification: number;
}

type Register = NonNullable<GossipsubOpts['metricsRegister']>;

/** A gossipsub metrics register that keeps only the RPC bytes sent. */
function byteCounter(): { register: Register; sent: () => number } {
  let sent = 0;
  const noop = new Proxy(() => noop, { get: () => noop, apply: () => noop }) as unknown as () => unknown;
  const register = {
    gauge: (config: { name: string }) =>
      config.name === 'gossipsub_rpc_sent_bytes_total'
        ? new Proxy(noop, {
            get: (_t, prop) =>
              prop === 'inc'
                ? (a?: unknown, b?: unknown) => {
                    sent += typeof a === 'number' ? a : typeof b === 'number' ? b : 1;
                  }
                : noop,
          })
        : noop,
    histogram: () => noop,
    avgMinMax: () => noop,
  } as unknown as Register;
  return { register, sent: () => sent };
}

function payload(size: number, salt = 0): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = ((i + salt * 7919) * 2654435761) >>> 24;
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function benchLibp2p(
  transport: 'memory' | 'tcp',
  n: number,
  sizes: number[],
  inlineLimit: number,
  reps: number,
): Promise<GossipResult[]> {
  const counters = Array.from({ length: n }, () => byteCounter());
  const gossips: Libp2pGossip[] = [];
  const results: GossipResult[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const gossip = {
        overrides: { metricsRegister: counters[i].register, metricsTopicStrToLabel: new Map([[TOPIC, 'bench']]) },
      };
      const node =
        transport === 'memory'
          ? await createMemoryLibp2p({ gossip })
          : await createNodeLibp2p({ loopback: true, gossip });
      gossips.push(await createLibp2pGossip(node, { inlineLimit }));
    }
    const topology =
      n > DEGREE + 1 ? { kind: 'random-regular' as const, degree: DEGREE, seed: SEED } : { kind: 'full' as const };
    await connectTopology(
      gossips.map((g) => g.node),
      topology,
    );
    let received = 0;
    let wake: (() => void) | undefined;
    for (const g of gossips) {
      g.subscribe(TOPIC, () => {
        received++;
        wake?.();
      });
    }
    await waitForMesh(
      gossips.map((g) => g.node),
      TOPIC,
      { timeout: 60_000 },
    );
    const publishAndWait = async (from: number, data: Uint8Array): Promise<number> => {
      received = 0;
      const t0 = performance.now();
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${received}/${n - 1} received`)), DELIVERY_TIMEOUT);
        wake = () => {
          if (received >= n - 1) {
            clearTimeout(timer);
            resolve();
          }
        };
      });
      await gossips[from].publish(TOPIC, data);
      await done;
      return performance.now() - t0;
    };
    await publishAndWait(0, payload(1000)); // warm-up
    for (const size of sizes) {
      const times: number[] = [];
      const bytes: number[] = [];
      for (let rep = 0; rep < reps; rep++) {
        // a distinct payload each time: an announced payload already cached is not fetched again
        const data = payload(size, rep);
        const before =
          counters.reduce((s, c) => s + c.sent(), 0) + gossips.reduce((s, g) => s + g.payloadStats.bytesServed, 0);
        times.push(await publishAndWait((rep * 7) % n, data));
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
        const afterBytes =
          counters.reduce((s, c) => s + c.sent(), 0) + gossips.reduce((s, g) => s + g.payloadStats.bytesServed, 0);
        bytes.push((afterBytes - before) / n);
      }
      const bytesPerPeer = bytes.reduce((a, b) => a + b, 0) / bytes.length;
      results.push({
        transport,
        peers: n,
        bytes: size,
        path: size > inlineLimit ? 'announce' : 'inline',
        msToAll: median(times),
        bytesPerPeer,
        amplification: bytesPerPeer / size,
      });
    }
  } finally {
    await Promise.all(gossips.map((g) => g.stop()));
  }
  return results;
}

async function benchBus(n: number, sizes: number[], reps: number): Promise<GossipResult[]> {
  const bus = new Bus({ topology: { kind: 'random-regular', degree: DEGREE, seed: SEED } });
  const peers = Array.from({ length: n }, (_, i) => bus.join(`p${i}`));
  for (const p of peers) p.subscribe(TOPIC, () => {});
  const results: GossipResult[] = [];
  for (const size of sizes) {
    const data = payload(size);
    const times: number[] = [];
    const before = peers.reduce((s, p) => s + p.traffic.bytesSent, 0);
    for (let rep = 0; rep < reps; rep++) {
      const t0 = performance.now();
      await peers[rep].publish(TOPIC, data);
      await bus.flush();
      times.push(performance.now() - t0);
    }
    const bytesPerPeer = (peers.reduce((s, p) => s + p.traffic.bytesSent, 0) - before) / n / reps;
    results.push({
      transport: 'bus',
      peers: n,
      bytes: size,
      path: 'inline',
      msToAll: median(times),
      bytesPerPeer,
      amplification: bytesPerPeer / size,
    });
  }
  await bus.stop();
  return results;
}

const KB = 1000;
const MB = 1000 * 1000;

export interface GossipBenchOptions {
  readonly quick: boolean;
  /** Payload sizes in bytes; default by quick. */
  readonly sizes?: readonly number[];
  /** libp2p memory-transport peer counts; default [10, 30, 100] ([10, 30] quick). */
  readonly memoryPeers?: readonly number[];
  /** Also measure the forced-inline and in-process bus cells. Default true. */
  readonly extras?: boolean;
  readonly onResult?: (r: GossipResult) => void;
}

export async function runGossipBench(
  options: GossipBenchOptions,
): Promise<{ degree: number; reps: number; results: GossipResult[] }> {
  const quick = options.quick;
  const reps = REPS_BY_MODE[quick ? 1 : 0];
  const sizes = [...(options.sizes ?? (quick ? [100 * KB] : [100 * KB, 1 * MB, 4 * MB]))];
  const extras = options.extras ?? true;
  const plan: Array<() => Promise<GossipResult[]>> = [
    ...(options.memoryPeers ?? (quick ? [10, 30] : [10, 30, 100])).map(
      (n) => () => benchLibp2p('memory', n, sizes, INLINE_LIMIT, reps),
    ),
    () => benchLibp2p('tcp', 10, sizes, INLINE_LIMIT, reps),
    ...(extras
      ? [
          // the same updates forced inline (inline limit raised to 2 MiB), to compare the two paths
          () => benchLibp2p('memory', 30, quick ? [100 * KB] : [100 * KB, 1 * MB], 2 * 1024 * 1024, reps),
          () => benchBus(quick ? 100 : 1000, sizes, reps),
        ]
      : []),
  ];
  const results: GossipResult[] = [];
  for (const step of plan) {
    for (const r of await step()) {
      results.push(r);
      options.onResult?.(r);
    }
  }
  return { degree: DEGREE, reps, results };
}

async function main(): Promise<void> {
  const args = new Set(process.argv.slice(2));
  const quick = args.has('--quick');
  const json = args.has('--json');
  if (!json) {
    console.log('gossip bench: npm exec -- node simulations/bench/gossip.ts [--quick] [--json]');
    console.log(
      `degree ${DEGREE} random-regular overlay (full mesh when N <= ${DEGREE + 1}), ${REPS_BY_MODE[quick ? 1 : 0]} updates per cell`,
    );
    console.log('transport  peers  payload   path      ms-to-all  bytes/peer/update  amplification');
  }
  const { reps, results } = await runGossipBench({
    quick,
    onResult: json
      ? undefined
      : (r) =>
          console.log(
            `${r.transport.padEnd(9)}  ${String(r.peers).padStart(5)}  ${`${r.bytes / KB} kB`.padStart(8)}  ${r.path.padEnd(8)}  ${r.msToAll.toFixed(0).padStart(9)}  ${(r.bytesPerPeer / MB).toFixed(2).padStart(14)} MB  ${r.amplification.toFixed(2).padStart(12)}`,
          ),
  });
  if (json) console.log(JSON.stringify({ degree: DEGREE, reps, quick, results }, null, 2));
}

if (import.meta.main) await main();
