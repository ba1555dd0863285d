/**
 * Neighbour-bounded dissemination against all-to-all (issue 16), through the simulation
 * runner with real Peers:
 *  - scale: s/round, candidates per merge, RSS per peer and bytes per peer per round for
 *    the default MLP (int8, 3 rounds x 2 local steps, degree-8 overlay) at several N, over
 *    the in-process bus and libp2p memory nodes, with neighbours D and with "all". Each
 *    case runs in its own child process (its RSS is its own); D and all alternate.
 *  - accuracy: the same scenario with D and with all, per strategy and seed.
 *
 *   npm exec -- node simulations/bench/neighbours.ts scale [--peers 10,30,100] [--transports inproc,libp2p-memory] [--rounds 3] [--only-d] [--models pooled,resident] [--gossip-steps k] [--json]
 *   npm exec -- node simulations/bench/neighbours.ts accuracy [--peers 30] [--seeds 1,2,3] [--rounds 10] [--strategies mean,bristle+ldawa] [--evaluate-every k] [--gossip-steps k] [--gossip-steps-all k] [--reset-momentum] [--min-fresh k] [--min-fresh-all k] [--only-d | --only-all] [--trace] [--json]
 *
 * accuracy evaluates round 0 and the last round by default (--evaluate-every rounds - 1);
 * --gossip-steps k: the D half runs k gossip (merge) steps per round (PeerOptions.gossipSteps),
 * --gossip-steps-all k the "all" half (default: the Peer's, 2 with D and 1 with "all"); --reset-momentum: the D half resets the
 * optimizer momentum at each merge (PeerOptions.momentumAfterMerge); --min-fresh k / --min-fresh-all k:
 * a round closes on k fresh updates (scenario minFreshUpdates; default 3) in the D / "all" half;
 * --trace prints per round: accuracy, candidates, fresh candidates, seq lag, deadline closes.
 *
 * Models: "pooled" (the runner's default: peers take turns on one shared tfjs model and rest as arrays,
 * src/train/model-pool.ts) or "resident" (a model per peer, RunHooks.residentModels).
 * RSS per peer: (peak RSS - RSS before the peers were built) / N, sampled every 100 ms and
 * at every peer-round.
 *
 * Bytes: "peer" counts what the Peer sent (updates, control messages, snapshots served to
 * followers); "bus" counts at the in-process transport, both directions, everything
 * (topic traffic and request/response bytes). libp2p rows have only the Peer's count.
 * Every row splits the requests by kind ("requestsByKind", on the bus also "busByKind":
 * pushed deltas and keyframes, follows answered with a snapshot, gap snapshots, control,
 * and failed requests by kind and error code), counted around each Gossip's fetch and
 * publish the way the bus counts them (each byte once sent, once received); without
 * --json they are printed as a second table.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { Gossip } from '../../src/net/gossip.ts';
import { Bus } from '../../src/net/inproc-bus.ts';
import { defaultGossipSteps } from '../../src/peer/peer.ts';
import { initBackend } from '../../src/train/backend.ts';
import { PUSH_PROTOCOL, SAMPLE_PROTOCOL, SNAPSHOT_PROTOCOL } from '../../src/wire/constants.ts';
import { createNetwork } from '../network.ts';
import { strategyResult } from '../results.ts';
import { type PeerRound, runStrategy } from '../runner.ts';
import { parseScenario } from '../scenario.ts';
import { buildSetup } from '../setup.ts';

const SELF = fileURLToPath(import.meta.url);
const RSS_SAMPLE_MS = 100;
const MIB = 1024 * 1024;

type Neighbours = number | 'all';

export interface ScaleCase {
  readonly transport: 'inproc' | 'libp2p-memory';
  readonly peers: number;
  readonly neighbours: Neighbours;
  readonly rounds: number;
  /** Every peer keeps a tfjs model of its own (RunHooks.residentModels), as before the model pool. */
  readonly resident?: boolean;
  /** Train the peers on this many worker threads (scenario `workers`; default 0, the main thread). */
  readonly workers?: number;
  /** Local steps per round (default 2). */
  readonly localSteps?: number;
  /** Gossip (merge) steps per round (PeerOptions.gossipSteps); default the Peer's. */
  readonly gossipSteps?: number;
}

export interface ScaleResult extends ScaleCase {
  readonly setupMs: number;
  readonly sPerRound: number;
  readonly candidatesMean: number;
  readonly candidatesMax: number;
  /** How the peers' gossip steps closed (every step of every peer-round): enough fresh updates, or the deadline. */
  readonly closedBy: Readonly<Record<string, number>>;
  readonly rssPerPeerMiB: number;
  readonly peakRssMiB: number;
  /** RSS before the peers were built (data set, tfjs, the process itself). */
  readonly baseRssMiB: number;
  /** At the end of the run, per peer above the start: JS ArrayBuffers, and the wasm heap (tfjs models). */
  readonly arrayBuffersPerPeerMiB: number;
  readonly wasmPerPeerMiB: number;
  /** 1-minute load average at the start and the end of the case (the machine is shared). */
  readonly load: readonly [number, number];
  /** Sent by each Peer per round (updates, control, snapshots served), mean over peers. */
  readonly peerBytesSentPerRound: number;
  /** In-process bus only: sent + received at the transport per peer per round, mean. */
  readonly busBytesPerRound: number | null;
  /**
   * In-process bus only: busBytesPerRound split by what the bytes were (both directions, as
   * the bus counts them), and how many exchanges of each kind per peer per round.
   */
  readonly busByKind: Readonly<Record<string, { bytes: number; count: number }>> | null;
  /**
   * Both transports: the requests each Peer made, by kind, per peer per round (bytes counted
   * as the bus counts them, sent and received: 2x), and failed requests by kind and error code.
   */
  readonly requestsByKind: Readonly<Record<string, { bytes: number; count: number }>>;
  /** Neighbour mode: follows with a non-empty answer and unfollows sent, per peer per round. */
  readonly followsPerRound: number | null;
  readonly errors: number;
  /** Building and wiring the transport (libp2p: creating the nodes and dialling the overlay), ms. */
  readonly networkMs: number;
  /** Per round, s after set-up when the last peer ended it (round 0 is the first entry). */
  readonly roundEndS: readonly number[];
  /**
   * Process CPU seconds (user + system, every thread) from the start of the run to when
   * the last peer ended each round: less disturbed by other processes than wall time on a
   * shared machine (rounds 1.. cost the differences).
   */
  readonly cpuRoundEndS: readonly number[];
  /** libp2p: mean connections per node when the last peer ended each round. */
  readonly connectionsPerNode: readonly number[];
  /** First few peer errors, for a failed case. */
  readonly firstErrors: readonly string[];
}

function scenarioFor(c: {
  transport: string;
  peers: number;
  neighbours: Neighbours;
  rounds: number;
  seed?: number;
  strategies?: string[];
  accuracy?: boolean;
  evaluateEvery?: number;
  workers?: number;
  localSteps?: number;
  gossipSteps?: number;
  resetMomentum?: boolean;
  minFreshUpdates?: number;
}) {
  return parseScenario({
    name: `bench-neighbours-${c.transport}-${c.peers}-${c.neighbours}`,
    dataset: 'mnist',
    model: 'mlp',
    peers: c.peers,
    partition: c.accuracy ? { kind: 'shards', classesPerPeer: 4 } : { kind: 'iid' },
    strategies: c.strategies ?? ['mean'],
    rounds: c.rounds,
    localSteps: c.localSteps ?? (c.accuracy ? 10 : 2),
    batchSize: 32,
    samplesPerPeer: c.accuracy ? 600 : 200,
    validationPerClass: c.accuracy ? 5 : 2,
    testSubset: c.accuracy ? 1000 : 100,
    // Round r is evaluated when r % evaluateEvery === 0: rounds - 1 evaluates round 0 and the
    // last round (the final accuracy); evaluateEvery = rounds evaluated round 0 only.
    evaluateEvery: c.evaluateEvery ?? Math.max(1, c.rounds - 1),
    codec: 'int8',
    transport: c.transport,
    degree: 8,
    neighbours: c.neighbours,
    ...(c.gossipSteps === undefined ? {} : { gossipSteps: c.gossipSteps }),
    momentumAfterMerge: c.resetMomentum === true ? 'reset' : 'keep',
    ...(c.minFreshUpdates === undefined ? {} : { minFreshUpdates: c.minFreshUpdates }),
    seed: c.seed ?? 1,
    workers: c.workers ?? 0,
  });
}

/** Bytes of the wasm heap (where tfjs-backend-wasm keeps tensors; it never shrinks), 0 on another backend. */
function wasmHeapBytes(): number {
  const backend = tf.backend() as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.buffer.byteLength ?? 0;
}

/** Bytes and exchanges by kind, counted around a Gossip's requests (both directions). */
class KindCounter {
  readonly totals = new Map<string, { bytes: number; count: number }>();

  add(kind: string, bytes: number): void {
    const t = this.totals.get(kind) ?? { bytes: 0, count: 0 };
    t.bytes += bytes;
    t.count++;
    this.totals.set(kind, t);
  }

  /** `gossip` with its publish and fetch counted (the bus counts each byte sent and received: 2x). */
  wrap(gossip: Gossip): Gossip {
    const fetch: Gossip['fetch'] = async (peer, protocol, request, options) => {
      let response: Uint8Array;
      const sample = ['?', 'exchange', 'answer', 'follow', 'unfollow', 'leave'][request[5] ?? 0] ?? '?';
      try {
        response = await gossip.fetch(peer, protocol, request, options);
      } catch (err) {
        // Failed requests by kind and error code (FetchError.code), no bytes.
        const kind =
          protocol === PUSH_PROTOCOL
            ? 'push'
            : protocol === SNAPSHOT_PROTOCOL
              ? 'snapshot (gap fetch)'
              : protocol === SAMPLE_PROTOCOL
                ? sample
                : protocol;
        const code = (err as { code?: unknown }).code;
        this.add(`failed ${kind}: ${typeof code === 'string' ? code : 'error'}`, 0);
        throw err;
      }
      const both = 2 * (request.byteLength + response.byteLength);
      if (protocol === PUSH_PROTOCOL) this.add(request[5] === 2 ? 'push keyframe' : 'push delta', both);
      else if (protocol === SNAPSHOT_PROTOCOL) this.add('snapshot (gap fetch)', both);
      else if (protocol === SAMPLE_PROTOCOL) {
        if (sample === 'follow' && response.byteLength > 0) this.add('follow + snapshot', both);
        else this.add(`control: ${sample}`, both);
      } else this.add(`other: ${protocol}`, both);
      return response;
    };
    const publish: Gossip['publish'] = async (topic, data) => {
      const r = await gossip.publish(topic, data);
      this.add('topic publish (x recipients)', 2 * data.byteLength * r.recipients);
      return r;
    };
    return new Proxy(gossip, {
      get(target, prop) {
        if (prop === 'fetch') return fetch;
        if (prop === 'publish') return publish;
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  }
}

/** One scale case, in this process. */
async function scaleCase(c: ScaleCase): Promise<ScaleResult> {
  await initBackend('wasm');
  const scenario = scenarioFor(c);
  const setup = buildSetup(scenario);
  const entry = scenario.strategies[0];
  if (entry === undefined) throw new Error('no strategy');
  let bus: Bus | undefined;
  const kinds = new KindCounter();
  let networkMs = 0;
  let gossips: readonly Gossip[] = [];
  const connections: number[] = [];
  const cpuEnds: number[] = [];
  let cpu0: NodeJS.CpuUsage | undefined;
  const cpuS = (): number => {
    const u = process.cpuUsage(cpu0);
    return (u.user + u.system) / 1e6;
  };
  const t0 = performance.now();
  const progress = (what: string): void => {
    process.stderr.write(
      `[${c.transport} ${c.peers} ${c.neighbours}] ${((performance.now() - t0) / 1000).toFixed(1)} s: ${what}\n`,
    );
  };
  const placement =
    c.transport === 'inproc'
      ? {
          local: new Set(setup.peers.map((p) => p.index)),
          createNetwork: async (initial: readonly unknown[]) => {
            const b = new Bus({ topology: scenario.topology });
            bus = b;
            let next = 0;
            const join = (): Gossip => kinds.wrap(b.join(`p${next++}`));
            return {
              gossips: initial.map(join),
              add: async () => join(),
              remove: (g: Gossip) => g.stop(),
              ready: async () => {},
              close: async () => {},
            };
          },
        }
      : {
          local: new Set(setup.peers.map((p) => p.index)),
          createNetwork: async () => {
            const n0 = performance.now();
            const created = await createNetwork(scenario.transport, c.peers, scenario.topology, scenario.seed);
            networkMs = performance.now() - n0;
            // Requests counted by kind as on the bus (this scenario has no churn: remove/add unused).
            const network = { ...created, gossips: created.gossips.map((g) => kinds.wrap(g)) };
            gossips = network.gossips;
            progress(`${c.peers} nodes created and the overlay dialled in ${(networkMs / 1000).toFixed(1)} s`);
            return network;
          },
        };
  const load0 = loadavg()[0] ?? 0;
  const start = process.memoryUsage();
  const wasm0 = wasmHeapBytes();
  const before = start.rss;
  let peak = before;
  const sample = (): void => {
    peak = Math.max(peak, process.memoryUsage.rss());
  };
  // The timer alone is not enough: on the in-process bus a run can go for minutes without
  // the event loop reaching its timers (everything runs as promise jobs), so every
  // peer-round also samples.
  const timer = setInterval(sample, RSS_SAMPLE_MS);
  const ended = new Map<number, number>();
  const onRound = (r: PeerRound): void => {
    sample();
    const n = (ended.get(r.round) ?? 0) + 1;
    ended.set(r.round, n);
    if (n !== c.peers) return;
    cpuEnds.push(cpuS());
    const links =
      gossips.length === 0 ? Number.NaN : gossips.reduce((a, g) => a + g.peers().length, 0) / gossips.length;
    connections.push(links);
    progress(
      `round ${r.round} ended by every peer (${(r.atMs / 1000).toFixed(1)} s after the run started${Number.isNaN(links) ? '' : `, ${links.toFixed(1)} connections per node`}, load ${(loadavg()[0] ?? 0).toFixed(1)})`,
    );
  };
  let run: Awaited<ReturnType<typeof runStrategy>>;
  let end: NodeJS.MemoryUsage;
  let wasmEnd: number;
  cpu0 = process.cpuUsage();
  try {
    run = await runStrategy(setup, entry, { onRound, residentModels: c.resident === true }, placement);
    sample();
    end = process.memoryUsage();
    wasmEnd = wasmHeapBytes();
  } finally {
    clearInterval(timer);
  }
  const result = strategyResult(run);
  const candidates = run.records.map((r) => r.candidates);
  let busBytes: number | null = null;
  let busByKind: Record<string, { bytes: number; count: number }> | null = null;
  let followsPerRound: number | null = null;
  const byKind: Record<string, { bytes: number; count: number }> = {};
  {
    const per = c.peers * c.rounds;
    for (const [k, t] of [...kinds.totals].sort()) byKind[k] = { bytes: t.bytes / per, count: t.count / per };
    if (c.neighbours !== 'all') followsPerRound = (kinds.totals.get('follow + snapshot')?.count ?? 0) / per;
  }
  if (bus !== undefined) {
    busByKind = byKind;
    let total = 0;
    for (const id of bus.peerIds()) {
      const t = bus.traffic(id);
      if (t) total += t.bytesSent + t.bytesReceived + t.fetchBytesSent + t.fetchBytesReceived;
    }
    busBytes = total / c.peers / c.rounds;
    await bus.stop();
  }
  return {
    ...c,
    setupMs: run.setupMs,
    sPerRound: (run.elapsedMs - run.setupMs) / c.rounds / 1000,
    candidatesMean: candidates.reduce((a, b) => a + b, 0) / Math.max(1, candidates.length),
    candidatesMax: Math.max(0, ...candidates),
    // Per gossip step of every peer-round: what closed its wait.
    closedBy: run.records.reduce<Record<string, number>>((acc, r) => {
      for (const why of r.stepsClosedBy ?? [r.closedBy]) acc[why] = (acc[why] ?? 0) + 1;
      return acc;
    }, {}),
    rssPerPeerMiB: (peak - before) / c.peers / MIB,
    peakRssMiB: peak / MIB,
    baseRssMiB: before / MIB,
    arrayBuffersPerPeerMiB: (end.arrayBuffers - start.arrayBuffers) / c.peers / MIB,
    wasmPerPeerMiB: (wasmEnd - wasm0) / c.peers / MIB,
    load: [load0, loadavg()[0] ?? 0],
    peerBytesSentPerRound: result.totalBytesSentPerPeer / c.rounds,
    busBytesPerRound: busBytes,
    busByKind,
    requestsByKind: byKind,
    followsPerRound,
    errors: run.errorCount,
    networkMs,
    roundEndS: Array.from({ length: c.rounds }, (_, round) => {
      const at = run.records.filter((r) => r.round === round).map((r) => r.atMs);
      return at.length === 0 ? Number.NaN : (Math.max(...at) - run.setupMs) / 1000;
    }),
    connectionsPerNode: connections,
    cpuRoundEndS: cpuEnds,
    firstErrors: run.errors.slice(0, 5),
  };
}

export interface AccuracyResult {
  readonly peers: number;
  readonly seed: number;
  readonly strategy: string;
  readonly neighbours: Neighbours;
  readonly gossipSteps: number;
  readonly resetMomentum: boolean;
  readonly minFreshUpdates: number;
  readonly rounds: number;
  readonly accuracy: number | null;
  readonly candidatesMean: number;
  readonly sPerRound: number;
  /** Per round: mean honest merged accuracy (null: not evaluated), candidates, freshness, lag. */
  readonly perRound: readonly RoundTrace[];
}

export interface RoundTrace {
  readonly round: number;
  readonly accuracy: number | null;
  readonly candidatesMean: number;
  readonly candidatesMin: number;
  /** Candidates whose update arrived during the round. */
  readonly freshMean: number;
  /** Seqs a candidate lags the merging peer's own latest publication, mean and max. */
  readonly lagMean: number;
  readonly lagMax: number;
  /** Share of candidates more than one seq behind. */
  readonly staleShare: number;
  readonly deadlineCloses: number;
  /** Neighbour mode: followers per peer at the merge, min and max over peers (in-degree). */
  readonly followersMin: number | null;
  readonly followersMax: number | null;
}

function traceRounds(records: readonly PeerRound[]): RoundTrace[] {
  const byRound = new Map<number, PeerRound[]>();
  for (const r of records) byRound.set(r.round, [...(byRound.get(r.round) ?? []), r]);
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return [...byRound.keys()]
    .sort((a, b) => a - b)
    .map((round) => {
      const list = byRound.get(round) ?? [];
      const acc = list.flatMap((r) => (r.merged ? [r.merged.overall] : []));
      const lags = list.flatMap((r) => r.candidateLags ?? []);
      const followers = list.flatMap((r) => (r.followers === undefined ? [] : [r.followers]));
      return {
        round,
        accuracy: acc.length === 0 ? null : mean(acc),
        candidatesMean: mean(list.map((r) => r.candidates)),
        candidatesMin: Math.min(...list.map((r) => r.candidates)),
        freshMean: mean(list.map((r) => r.freshCandidates ?? 0)),
        lagMean: mean(lags),
        lagMax: Math.max(0, ...lags),
        staleShare: lags.filter((l) => l > 1).length / Math.max(1, lags.length),
        // Peer-steps closed on the deadline (any gossip step).
        deadlineCloses: list.reduce(
          (n, r) => n + (r.stepsClosedBy ?? [r.closedBy]).filter((why) => why === 'deadline').length,
          0,
        ),
        followersMin: followers.length === 0 ? null : Math.min(...followers),
        followersMax: followers.length === 0 ? null : Math.max(...followers),
      };
    });
}

async function accuracyCase(c: {
  peers: number;
  seed: number;
  neighbours: Neighbours;
  rounds: number;
  strategies: string[];
  evaluateEvery?: number;
  gossipSteps?: number;
  resetMomentum?: boolean;
  minFreshUpdates?: number;
}): Promise<AccuracyResult[]> {
  await initBackend('wasm');
  const scenario = scenarioFor({ ...c, transport: 'inproc', accuracy: true });
  const setup = buildSetup(scenario);
  const out: AccuracyResult[] = [];
  for (const entry of scenario.strategies) {
    const run = await runStrategy(setup, entry);
    const result = strategyResult(run);
    const candidates = run.records.map((r) => r.candidates);
    out.push({
      peers: c.peers,
      seed: c.seed,
      strategy: entry.label,
      neighbours: c.neighbours,
      gossipSteps: c.gossipSteps ?? defaultGossipSteps(c.neighbours),
      resetMomentum: c.resetMomentum === true,
      minFreshUpdates: scenario.minFreshUpdates,
      rounds: c.rounds,
      accuracy: result.final.honestAccuracy?.mean ?? null,
      candidatesMean: candidates.reduce((a, b) => a + b, 0) / Math.max(1, candidates.length),
      sPerRound: (run.elapsedMs - run.setupMs) / c.rounds / 1000,
      perRound: traceRounds(run.records),
    });
  }
  return out;
}

/** One scale case in a child process of its own (its RSS is its own). */
export function scaleInChild(c: ScaleCase): Promise<ScaleResult> {
  return child<ScaleResult>({ kind: 'scale', ...c });
}

/** Runs this file with `--child <json>` and returns the JSON it prints last. */
function child<T>(args: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [SELF, '--child', JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    p.on('error', reject);
    p.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || (!last.startsWith('{') && !last.startsWith('[')))
        reject(new Error(`child exited ${code}: ${out.slice(-500)}`));
      else resolve(JSON.parse(last) as T);
    });
  });
}

function list(argv: string[], flag: string, fallback: string): string[] {
  const at = argv.indexOf(flag);
  return (at >= 0 ? (argv[at + 1] ?? '') : fallback).split(',').filter((s) => s !== '');
}

const fmt = (v: number | null, digits = 2): string => (v === null ? '-' : v.toFixed(digits));

function printTrace(r: AccuracyResult): void {
  process.stderr.write(
    `# ${r.strategy} neighbours=${r.neighbours} gossipSteps=${r.gossipSteps} minFresh=${r.minFreshUpdates} seed=${r.seed}\n`,
  );
  process.stderr.write('round accuracy candidates(min) fresh lagMean lagMax stale>1 deadline followers(min-max)\n');
  for (const t of r.perRound) {
    process.stderr.write(
      `${t.round} ${fmt(t.accuracy, 4)} ${fmt(t.candidatesMean, 1)}(${t.candidatesMin}) ${fmt(t.freshMean, 1)} ${fmt(t.lagMean)} ${t.lagMax} ${fmt(t.staleShare)} ${t.deadlineCloses} ${t.followersMin ?? '-'}-${t.followersMax ?? '-'}\n`,
    );
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    const args = JSON.parse(argv[1] ?? '{}') as { kind: 'scale' | 'accuracy' } & Record<string, unknown>;
    const result =
      args.kind === 'scale'
        ? await scaleCase(args as unknown as ScaleCase)
        : await accuracyCase(args as unknown as Parameters<typeof accuracyCase>[0]);
    console.log(JSON.stringify(result));
    process.exit(0);
  }
  const json = argv.includes('--json');
  const d = Number(list(argv, '--neighbours', '8')[0]);
  const rounds = Number(list(argv, '--rounds', argv[0] === 'accuracy' ? '10' : '3')[0]);
  // Gossip steps per round: --gossip-steps for the D half, --gossip-steps-all for "all".
  const steps = (flag: string): number | undefined => {
    const v = list(argv, flag, '')[0];
    return v === undefined ? undefined : Number(v);
  };
  const stepsD = steps('--gossip-steps');
  const stepsAll = steps('--gossip-steps-all');
  if (argv[0] === 'scale') {
    const rows: ScaleResult[] = [];
    for (const transport of list(argv, '--transports', 'inproc,libp2p-memory') as ScaleCase['transport'][]) {
      for (const peers of list(argv, '--peers', '10,30,100').map(Number)) {
        // Alternate which mode runs first.
        const both: Neighbours[] = rows.length % 4 === 0 ? [d, 'all'] : ['all', d];
        const modes = argv.includes('--only-d') ? [d] : both;
        // --models pooled,resident: each case with and without the model pool, alternating.
        const kinds = list(argv, '--models', 'pooled');
        for (const neighbours of modes) {
          const order = rows.length % 2 === 0 ? kinds : [...kinds].reverse();
          for (const kind of order) {
            const resident = kind === 'resident';
            const gossipSteps = neighbours === 'all' ? stepsAll : stepsD;
            const row = await child<ScaleResult>({
              kind: 'scale',
              transport,
              peers,
              neighbours,
              rounds,
              resident,
              gossipSteps,
            });
            rows.push(row);
            process.stderr.write(`${JSON.stringify(row)}\n`);
          }
        }
      }
    }
    if (json) console.log(JSON.stringify(rows));
    else {
      console.log(
        '| transport | peers | neighbours | models | s/round | candidates mean / max | RSS/peer MiB | peak RSS MiB | kB sent/peer/round (Peer) | kB/peer/round at the bus (sent+received) | errors |',
      );
      console.log('|---|---|---|---|---|---|---|---|---|---|---|');
      for (const r of rows) {
        console.log(
          `| ${r.transport} | ${r.peers} | ${r.neighbours} | ${r.resident === true ? 'resident' : 'pooled'} | ${fmt(r.sPerRound)} | ${fmt(r.candidatesMean, 1)} / ${r.candidatesMax} | ${fmt(r.rssPerPeerMiB, 1)} | ${fmt(r.peakRssMiB, 0)} | ${fmt(r.peerBytesSentPerRound / 1000, 0)} | ${r.busBytesPerRound === null ? '-' : fmt(r.busBytesPerRound / 1000, 0)} | ${r.errors} |`,
        );
      }
      console.log('\n| transport | peers | neighbours | kind | kB/peer/round at the bus | exchanges/peer/round |');
      console.log('|---|---|---|---|---|---|');
      for (const r of rows) {
        for (const [kind, t] of Object.entries(r.requestsByKind)) {
          console.log(
            `| ${r.transport} | ${r.peers} | ${r.neighbours} | ${kind} | ${fmt(t.bytes / 1000, 1)} | ${fmt(t.count, 2)} |`,
          );
        }
      }
    }
    return;
  }
  if (argv[0] === 'accuracy') {
    const strategies = list(argv, '--strategies', 'mean,bristle+ldawa');
    const every = list(argv, '--evaluate-every', '')[0];
    const evaluateEvery = every === undefined ? undefined : Number(every);
    // A round closes on this many fresh updates: --min-fresh for the D half, --min-fresh-all for "all".
    const fresh = (flag: string): number | undefined => {
      const v = list(argv, flag, '')[0];
      return v === undefined ? undefined : Number(v);
    };
    const freshD = fresh('--min-fresh');
    const freshAll = fresh('--min-fresh-all');
    const rows: AccuracyResult[] = [];
    for (const seed of list(argv, '--seeds', '1,2,3').map(Number)) {
      for (const peers of list(argv, '--peers', '30').map(Number)) {
        const both: Neighbours[] = seed % 2 === 1 ? [d, 'all'] : ['all', d];
        const modes: Neighbours[] = argv.includes('--only-d') ? [d] : argv.includes('--only-all') ? ['all'] : both;
        for (const neighbours of modes) {
          const r = await child<AccuracyResult[]>({
            kind: 'accuracy',
            peers,
            seed,
            neighbours,
            rounds,
            strategies,
            evaluateEvery,
            gossipSteps: neighbours === 'all' ? stepsAll : stepsD,
            resetMomentum: neighbours !== 'all' && argv.includes('--reset-momentum'),
            minFreshUpdates: neighbours === 'all' ? freshAll : freshD,
          });
          rows.push(...r);
          for (const x of r) process.stderr.write(`${JSON.stringify(x)}\n`);
          if (argv.includes('--trace')) for (const x of r) printTrace(x);
        }
      }
    }
    if (json) console.log(JSON.stringify(rows));
    else {
      console.log('| strategy | neighbours | gossip steps | seed | accuracy | candidates mean | s/round |');
      console.log('|---|---|---|---|---|---|---|');
      for (const r of rows) {
        console.log(
          `| ${r.strategy} | ${r.neighbours} | ${r.gossipSteps} | ${r.seed} | ${fmt(r.accuracy, 4)} | ${fmt(r.candidatesMean, 1)} | ${fmt(r.sPerRound)} |`,
        );
      }
    }
    return;
  }
  throw new Error('usage: neighbours.ts scale|accuracy [options]');
}

if (import.meta.main) await main();
