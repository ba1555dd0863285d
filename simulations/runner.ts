/**
 * Runs one strategy of a scenario: N real Peers (the asynchronous round loop) over the
 * scenario's transport, every peer running its rounds concurrently, and returns what each
 * peer reported per round.
 *
 * Byzantine peers train like everyone (on flipped labels for label-flip) and replace what
 * they publish through Peer's `outgoing` hook. Omniscient attacks (ALIE, IPM) see a shared
 * view of the honest peers' latest published models: in an asynchronous run that is each
 * honest peer's most recent model, from this round or the one before; in shard mode, honest
peers of other processes enter that view as the attacker's own node received them. Attackers merge with
 * "mean" and are not evaluated (their accuracy is not reported).
 *
 * Mode "lockstep" (scenario key "mode") runs the same Peers in synchronous rounds with
 * omniscient attackers instead: ./lockstep-mode.ts.
 */

import * as tf from '@tensorflow/tfjs';
import { TrainingPool } from '../node/train-pool/pool.ts';
import { PooledTraining } from '../node/train-pool/pooled-training.ts';
import { deadInputMask } from '../src/attacks/dead-input-blowup.ts';
import { createRng } from '../src/data/rng.ts';
import { isOracle, oracleStrategy } from '../src/merge/oracle.ts';
import type { MergeReport, Strategy } from '../src/merge/types.ts';
import type { Weights } from '../src/model/weights.ts';
import type { Gossip } from '../src/net/gossip.ts';
import { createModelPool, createPeer } from '../src/peer/create-peer.ts';
import type { WaitGate } from '../src/peer/deadline.ts';
import type { AccuracySnapshot, RoundSummary } from '../src/peer/events.ts';
import { IdleGate } from '../src/peer/idle-gate.ts';
import type { OutgoingTransform, Peer } from '../src/peer/peer.ts';
import { parseTaskSpec, type TaskSpec, taskSpecRecord } from '../src/peer/task.ts';
import type { BackendChoice } from '../src/train/backend.ts';
import type { ModelPool } from '../src/train/model-pool.ts';
import { SharedPublicRows } from '../src/train/public-rows.ts';
import type { PeerTrainer, StatefulTrainer, TrainerOptions } from '../src/train/trainer.ts';
import { SharedCopies } from '../src/wire/shared-copies.ts';
import { updatesTopic } from '../src/wire/topic.ts';
import { LockstepRounds, lockstepAttackerModel } from './lockstep-mode.ts';
import { createNetwork, type SimNetwork } from './network.ts';
import type { StrategyEntry } from './scenario.ts';
import type { PeerSetup, SimulationSetup } from './setup.ts';

/** Peer errors kept per run (the rest are counted). */
const MAX_KEPT_ERRORS = 20;

export interface PeerRound {
  readonly peer: number;
  /** Scenario round (a joiner's first round is its join round). */
  readonly round: number;
  readonly merged: AccuracySnapshot | undefined;
  readonly local: AccuracySnapshot | undefined;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly candidates: number;
  /** Per candidate, seqs behind this peer's own latest (RoundSummary.candidateLags). */
  readonly candidateLags?: readonly number[];
  /** Candidates whose update arrived during the round. */
  readonly freshCandidates?: number;
  /** Neighbour mode: this peer's followers at the merge. */
  readonly followers?: number;
  /** Share of the peer's own model in its merge result (1: nothing merged). */
  readonly ownShare: number | undefined;
  /** Share of the merge result that came from Byzantine peers' models. */
  readonly byzantineShare: number | undefined;
  /** Peer indices whose models the merge used (share > 0), sorted; -1 for an unknown sender. */
  readonly mergedFrom: readonly number[];
  readonly closedBy: RoundSummary['closedBy'];
  /** What closed each gossip step's wait (RoundSummary.stepsClosedBy). */
  readonly stepsClosedBy?: readonly RoundSummary['closedBy'][];
  /** ms since the run started, when this round ended. */
  readonly atMs: number;
  /** Wall ms of this round's merge (timing: not part of what a seed fixes). */
  readonly mergeMs?: number;
  /**
   * Mode "lockstep": largest |w| of the peer's exchanged layers after the merge (blow-up
   * attacks hide from accuracy); NaN when a value is NaN.
   */
  readonly maxAbs?: number;
}

export interface StrategyRun {
  readonly label: string;
  readonly records: PeerRound[];
  readonly honestPeers: readonly number[];
  readonly interrupted: boolean;
  readonly elapsedMs: number;
  readonly setupMs: number;
  readonly errors: string[];
  readonly errorCount: number;
  readonly rejectedUpdates: number;
  /** Mode "lockstep": why the run stopped before its last round (also among `errors`). */
  readonly stalled?: string;
}

export interface RunHooks {
  readonly signal?: AbortSignal;
  readonly onRound?: (r: PeerRound) => void;
  /**
   * Every honest peer's merge report of a round's first gossip step (diagnostics: who was
   * used, who was rejected and why); `senderIndex` names a report's peer id by its index
   * (undefined: not a peer of the run).
   */
  readonly onMerge?: (
    peer: number,
    round: number,
    report: MergeReport,
    senderIndex: (id: string) => number | undefined,
  ) => void;
  /**
   * Every peer keeps a model of its own for the whole run, as before the model pool (same
   * numbers, several times the memory: for comparisons). Default false: without `workers`,
   * peers share the pool's models and rest as arrays.
   */
  readonly residentModels?: boolean;
}

/**
 * Which peers this process runs and over what network (shard mode: a slice of the peers,
 * linked to the other slices' processes). Default: every peer, over `createNetwork`.
 */
export interface RunPlacement {
  readonly local: ReadonlySet<number>;
  /** Network for this process's initial peers (in index order). */
  readonly createNetwork: (initial: readonly PeerSetup[]) => Promise<SimNetwork>;
}

/**
 * The task of one strategy's run: the scenario's, merged by `entry` (the oracle, which
 * needs ground truth, is the runner's own Strategy; its task names its base rule, mean).
 */
function entryTask(setup: SimulationSetup, entry: StrategyEntry): TaskSpec {
  const strategy = isOracle(entry.spec) ? 'mean' : entry.spec;
  return parseTaskSpec({ ...taskSpecRecord(setup.task), strategy });
}

export async function runStrategy(
  setup: SimulationSetup,
  entry: StrategyEntry,
  hooks: RunHooks = {},
  placement?: RunPlacement,
): Promise<StrategyRun> {
  const s = setup.scenario;
  if (s.mode === 'lockstep' && placement !== undefined) {
    throw new RangeError('mode "lockstep" runs every peer in one process (no shards)');
  }
  const start = performance.now();
  const records: PeerRound[] = [];
  const errors: string[] = [];
  let errorCount = 0;
  let rejectedUpdates = 0;
  const honestView = new Map<number, Weights>();
  const mine = (p: PeerSetup): boolean => placement?.local.has(p.index) ?? true;
  const lockstep =
    s.mode === 'lockstep'
      ? new LockstepRounds(
          setup.peers.length,
          setup.peers.filter((p) => !p.attacker).map((p) => p.index),
        )
      : undefined;
  // A lockstep round that cannot close as designed stops the run (see `stall`).
  const stalled = new AbortController();
  let stalledBy: string | undefined;
  const signal = hooks.signal ? AbortSignal.any([hooks.signal, stalled.signal]) : stalled.signal;
  const stall = (why: string): void => {
    if (stalledBy !== undefined) return;
    stalledBy = why;
    errorCount++;
    errors.push(`lockstep stalled: ${why}`);
    stalled.abort();
  };
  const initial = setup.peers.filter((p) => p.joinRound === 0 && mine(p));
  const network = placement
    ? await placement.createNetwork(initial)
    : await createNetwork(s.transport, initial.length, s.topology, s.seed);
  const peers = new Map<number, Peer>();
  const trainers: PeerTrainer[] = [];
  const task = entryTask(setup, entry);
  const topic = updatesTopic(task.taskId);
  const reached = new Map<number, { promise: Promise<void>; resolve: () => void }>();
  const roundReached = (round: number): { promise: Promise<void>; resolve: () => void } => {
    let r = reached.get(round);
    if (!r) {
      let resolve = (): void => {};
      const promise = new Promise<void>((done) => {
        resolve = done;
      });
      r = { promise, resolve };
      reached.set(round, r);
    }
    return r;
  };
  // Stops started on abort; awaited (with every other peer's stop) before the run returns.
  const stopping: Promise<void>[] = [];
  const onAbort = (): void => {
    lockstep?.abort();
    for (const r of reached.values()) r.resolve();
    for (const p of peers.values()) stopping.push(p.stop());
  };
  signal.addEventListener('abort', onAbort, { once: true });

  const gossips = new Map<number, Gossip>();
  // Peers' training on worker threads (scenario key "workers"); evaluation and merging stay here.
  let pool: TrainingPool | undefined;
  // Without workers, peers share a few models and rest as arrays (docs/ARCHITECTURE.md).
  let models: ModelPool | undefined;
  /** Honest peers run by other processes (shard mode): attackers see them through what they receive. */
  const remoteHonest = new Set<string>();
  const attackerIds = new Set<string>();
  /** Peer id -> peer index, local and (shard mode) remote, to name who a merge used. */
  const indexOf = new Map<string, number>();
  // Ground truth for the "oracle": a sender is honest when it is a known peer and no attacker.
  const isHonest = (id: string): boolean => indexOf.has(id) && !attackerIds.has(id);
  /** Attackers merge with mean; the oracle is built here (it needs ground truth); else the task's strategy. */
  const strategyFor = (p: PeerSetup): Strategy | 'mean' | undefined => {
    if (p.attacker) return 'mean';
    const spec = entry.spec;
    if (isOracle(spec)) return oracleStrategy(isHonest, typeof spec === 'string' ? {} : spec.options);
    return undefined;
  };
  // Neighbours' copies are held once per process: on the bus every receiver of a message
  // gets the same bytes object; over libp2p each gets its own, mapped to the sender's by
  // content (SharedCopies.canonical), so receivers decode and hold a sender's copy once.
  const shared = { copies: new SharedCopies(), publicRows: new SharedPublicRows() };
  // Async rounds on the bus, every peer in this process: a wait gives up only when every
  // running peer waits (src/peer/idle-gate.ts), never on the wall clock, so a seed gives the
  // same numbers whatever the load. Lockstep keeps its own (stall) deadline.
  const gate = s.mode === 'async' && s.transport === 'inproc' && setup.peers.every(mine) ? new IdleGate() : undefined;
  const makePeer = async (p: PeerSetup, gossip: Gossip): Promise<Peer> => {
    gossips.set(p.index, gossip);
    const view = { local: honestView, remote: remoteHonest };
    const peer = await networkPeer(
      p,
      setup,
      task,
      gossip,
      strategyFor(p),
      view,
      { training: pool, models },
      shared,
      lockstep,
      gate,
    );
    trainers.push(peer.trainer);
    return peer;
  };

  const track = (p: PeerSetup, peer: Peer): void => {
    if (p.attacker) attackerIds.add(peer.id);
    indexOf.set(peer.id, p.index);
    peer.addEventListener('round:end', (e) => {
      const d = e.detail;
      const used = d.merge?.used ?? [];
      const record: PeerRound = {
        peer: p.index,
        round: p.joinRound + d.round,
        merged: d.merged,
        local: d.local,
        bytesSent: d.bytesSent,
        bytesReceived: d.bytesReceived,
        candidates: d.candidates,
        candidateLags: d.candidateLags,
        freshCandidates: d.freshCandidates,
        followers: d.followers,
        ownShare: d.merge?.ownShare,
        byzantineShare: d.merge ? used.reduce((a, u) => a + (attackerIds.has(u.peer) ? u.share : 0), 0) : undefined,
        mergedFrom: used
          .filter((u) => u.share > 0)
          .map((u) => indexOf.get(u.peer) ?? -1)
          .sort((a, b) => a - b),
        closedBy: d.closedBy,
        stepsClosedBy: d.stepsClosedBy,
        atMs: performance.now() - start,
        mergeMs: d.mergeMs,
        ...(lockstep !== undefined && !p.attacker ? { maxAbs: maxAbs(peer.trainer, exchangedOf(peer)) } : {}),
      };
      if (!p.attacker && d.merge !== undefined)
        hooks.onMerge?.(p.index, record.round, d.merge, (id) => indexOf.get(id));
      if (lockstep !== undefined) {
        if (d.stepsClosedBy.includes('deadline')) stall(`peer ${p.index} closed round ${record.round} on its deadline`);
        lockstep.ended(record.round);
      }
      if (!p.attacker) {
        records.push(record);
        hooks.onRound?.(record);
      }
      roundReached(record.round).resolve();
    });
    peer.addEventListener('update:rejected', (e) => {
      rejectedUpdates++;
      // In lockstep every round waits for this update: it will not come.
      if (lockstep !== undefined) stall(`peer ${p.index} refused an update of ${e.detail.from} (${e.detail.reason})`);
    });
    peer.addEventListener('error', (e) => {
      errorCount++;
      if (errors.length < MAX_KEPT_ERRORS) errors.push(`peer ${p.index}: ${e.detail.message}`);
    });
  };

  let setupMs = 0;
  try {
    if (s.workers > 0)
      pool = await TrainingPool.start({ workers: s.workers, backend: tf.getBackend() as BackendChoice });
    // With workers too: peers hold their state as arrays here (what a train request carries),
    // and the pool's one model serves their evaluations.
    if (hooks.residentModels !== true)
      models = await createModelPool(task, {
        tuning: { trainable: s.trainable, momentum: s.momentum },
        ...(setup.backbone ? { weights: setup.backbone } : {}),
      });
    for (const [i, p] of initial.entries()) {
      const peer = await makePeer(p, network.gossips[i]);
      track(p, peer);
      peers.set(p.index, peer);
      await peer.start();
    }
    await network.ready(topic);
    for (const [id, index] of network.remotePeers?.() ?? []) {
      indexOf.set(id, index);
      if (setup.peers[index]?.attacker) attackerIds.add(id);
      else remoteHonest.add(id);
    }
    setupMs = performance.now() - start;
    const lives = setup.peers.filter(mine).map(async (p) => {
      let peer = peers.get(p.index);
      if (!peer) {
        await roundReached(p.joinRound - 1).promise;
        if (signal.aborted) return;
        peer = await makePeer(p, await network.add());
        track(p, peer);
        peers.set(p.index, peer);
        await peer.start();
      }
      if (signal.aborted) return;
      gate?.start(peer.id);
      await peer.run(p.leaveRound - p.joinRound);
      // It publishes nothing more: nobody waits for it (not even for a deadline). The Peer
      // tells its followers itself (a `leave`, docs/PROTOCOL.md); on the in-process bus the
      // runner also tells every peer at once, as before (the seeded runs' order of events).
      // Over libp2p only the wire says so, as between daemons.
      gate?.end(peer.id);
      if (s.transport === 'inproc') for (const other of peers.values()) other.neighbourFinished(peer.id, peer.seq);
      if (p.leaveRound < s.rounds) {
        await peer.stop();
        const gossip = gossips.get(p.index);
        if (gossip) await network.remove(gossip);
      }
    });
    await Promise.all(lives);
    await network.settle?.(signal.aborted);
  } finally {
    gate?.close();
    signal.removeEventListener('abort', onAbort);
    await Promise.allSettled([...stopping, ...[...peers.values()].map((p) => p.stop())]);
    try {
      await network.close();
    } finally {
      await pool?.close();
    }
    for (const t of trainers) t.release();
    models?.close();
  }
  return {
    label: entry.label,
    records,
    honestPeers: setup.peers.filter((p) => !p.attacker && mine(p)).map((p) => p.index),
    interrupted: hooks.signal?.aborted === true,
    elapsedMs: performance.now() - start,
    setupMs,
    errors,
    errorCount,
    rejectedUpdates,
    ...(stalledBy === undefined ? {} : { stalled: stalledBy }),
  };
}

const exchangedOf = (peer: Peer): ReadonlySet<string> => peer.trainer.trainableLayers();

/** Largest |w| of `trainer`'s `layers`; NaN when a value is NaN. */
function maxAbs(trainer: PeerTrainer, layers: ReadonlySet<string>): number {
  let m = 0;
  for (const l of trainer.getWeights()) {
    if (!layers.has(l.name)) continue;
    for (const x of l.values) {
      const a = Math.abs(x);
      if (Number.isNaN(a)) return Number.NaN;
      if (a > m) m = a;
    }
  }
  return m;
}

/**
 * What omniscient attackers (ALIE, IPM) know of the honest peers: the latest published
 * model of every honest peer of this process, and (shard mode) the ids of honest peers
 * run elsewhere, whose models an attacker knows only as far as its own node received them.
 */
interface HonestView {
  readonly local: Map<number, Weights>;
  readonly remote: ReadonlySet<string>;
}

/** One Peer of `task` (createPeer): honest, or Byzantine through `outgoing`. */
async function networkPeer(
  p: PeerSetup,
  setup: SimulationSetup,
  task: TaskSpec,
  gossip: Gossip,
  strategy: Strategy | 'mean' | undefined,
  view: HonestView,
  pools: { readonly training: TrainingPool | undefined; readonly models: ModelPool | undefined },
  shared: { readonly copies: SharedCopies; readonly publicRows: SharedPublicRows } | undefined,
  lockstep: LockstepRounds | undefined,
  waitGate: WaitGate | undefined,
): Promise<Peer> {
  const honestView = view.local;
  const s = setup.scenario;
  const attack = p.attacker ? setup.attack : undefined;
  let reference: Weights | undefined;
  let outgoing: OutgoingTransform;
  if (lockstep !== undefined) {
    outgoing = lockstepOutgoing(p, setup, lockstep, () => peer.trainer);
  } else if (attack?.kind === 'model') {
    let deadInputs: Uint8Array | undefined;
    const colluder = setup.peers.filter((q) => q.attacker).findIndex((q) => q.index === p.index);
    outgoing = (own, round) => {
      const honest = [...honestView.values(), ...receivedFrom(view.remote)];
      // Colluders share one rng per round, so randomised attacks send the same model;
      // perColluder attacks (adaptive-alie) draw their own.
      const roundRng = createRng(s.seed).fork(`attack-${p.joinRound + round}`);
      if (attack.name === 'dead-input-blowup') deadInputs ??= deadInputMask(p.train);
      return attack.craft({
        own,
        reference: reference ?? own,
        honest: honest.length > 0 ? honest : [own],
        outputLayer: peer.trainer.model.outputLayer,
        rng: attack.perColluder ? roundRng.fork(`colluder-${p.index}`) : roundRng,
        ...(attack.perColluder ? { colluder } : {}),
        ...(deadInputs ? { deadInputs } : {}),
      });
    };
  } else if (p.attacker) {
    outgoing = (own) => own; // data attack: trained on flipped labels, sends honestly
  } else if (setup.attack?.kind === 'model') {
    outgoing = (own) => {
      honestView.set(p.index, own);
      return own;
    };
  } else {
    // No omniscient attacker reads the view: holding every peer's model would cost a model per peer.
    outgoing = (own) => own;
  }
  // Training on the worker pool, whichever trainer the peer has (resident or on the models).
  const training = pools.training;
  const pooled =
    training === undefined
      ? undefined
      : (trainer: StatefulTrainer, options: TrainerOptions) =>
          PooledTraining.register(training, gossip.id, trainer, options, p.train);
  const receivedFrom = (ids: ReadonlySet<string>): Weights[] =>
    [...ids].flatMap((id) => {
      const w = peer.receivedModel(id);
      return w ? [w] : [];
    });
  const peer: Peer = await createPeer(task, {
    gossip,
    data: {
      train: p.train,
      validation: p.validation,
      familiarClasses: p.familiarClasses,
      validationPublic: p.validationPublic,
      evaluation: setup.evaluation,
    },
    // Common initial model (the task's seed), own batch order and merge randomness per peer.
    seed: s.seed * 1009 + p.index,
    backend: false,
    trainer: { trainable: s.trainable, momentum: s.momentum },
    // Peers rest as arrays on the models of this process (unless resident), and train on
    // worker threads (scenario key "workers") or on those models.
    ...(pools.models !== undefined
      ? { models: pools.models, ...(pooled === undefined ? {} : { modelsTraining: pooled }) }
      : {
          ...(pooled === undefined ? {} : { training: pooled }),
          ...(setup.backbone ? { weights: setup.backbone } : {}),
        }),
    ...(strategy === undefined ? {} : { strategy }),
    // Lockstep attackers train in their outgoing hook, from the honest mean (./lockstep-mode.ts).
    local: lockstep !== undefined && p.attacker ? { steps: 0 } : s.local,
    // Lockstep compares merge rules alone, as if no wire bound stood before them (and a
    // refused update would stall the round); the merge guard still drops huge values.
    ...(lockstep !== undefined ? { wireBounds: false as const } : {}),
    minFreshUpdates: s.minFreshUpdates,
    neighbours: s.neighbours,
    ...(s.gossipSteps === undefined ? {} : { gossipSteps: s.gossipSteps }),
    // Lockstep waits for every peer's update each round: a shunned sender would stall it.
    ...(lockstep !== undefined ? { shunAfter: 0 } : s.shunAfter === undefined ? {} : { shunAfter: s.shunAfter }),
    ...(s.shunRounds === undefined ? {} : { shunRounds: s.shunRounds }),
    momentumAfterMerge: s.momentumAfterMerge,
    ...(shared === undefined ? {} : { sharedCopies: shared.copies, sharedPublicRows: shared.publicRows }),
    deadline: { initialMs: s.deadline.initialMs, minMs: s.deadline.minMs, maxMs: s.deadline.maxMs },
    ...(waitGate === undefined ? {} : { waitGate }),
    evaluateEvery: p.attacker ? 0 : s.evaluateEvery,
    outgoing,
  });
  const exchanged = peer.trainer.trainableLayers();
  const current = (): Weights => peer.trainer.getWeights().filter((l) => exchanged.has(l.name));
  if (lockstep !== undefined && !p.attacker) {
    peer.addEventListener('round:start', (e) => lockstep.started(p.index, p.joinRound + e.detail.round, current()));
  } else if (lockstep === undefined && attack?.kind === 'model') {
    peer.addEventListener('round:start', () => {
      reference = current();
    });
  }
  return peer;
}

/**
 * A lockstep peer's outgoing hook: nothing is published before the round opens; honest
 * peers hand their model to the attackers' view, attackers replace theirs.
 */
function lockstepOutgoing(
  p: PeerSetup,
  setup: SimulationSetup,
  rounds: LockstepRounds,
  trainer: () => PeerTrainer,
): OutgoingTransform {
  const s = setup.scenario;
  const attack = p.attacker ? setup.attack : undefined;
  if (attack === undefined) {
    return async (own, round) => {
      await rounds.opened(p.joinRound + round);
      rounds.sent(p.index, p.joinRound + round, own);
      return own;
    };
  }
  const colluder = setup.peers.filter((q) => q.attacker).findIndex((q) => q.index === p.index);
  const context = { attack, rounds, local: s.local, seed: s.seed, publicSet: setup.publicValidation };
  return (own, round) =>
    lockstepAttackerModel(
      { index: p.index, colluder, trainer: trainer(), train: p.train },
      p.joinRound + round,
      own,
      context,
    );
}
