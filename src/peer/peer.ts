/**
 * Peer: the asynchronous round loop of ARCHITECTURE.md.
 *
 *   train -> encode (CHOCO delta of the exchanged layers) -> publish
 *   -> wait for enough fresh neighbour updates or the adaptive deadline
 *   -> merge own model with neighbours' public copies -> evaluate -> next round
 *
 * Nothing waits on a particular neighbour. Incoming updates are validated (as a gossip
 * topic validator and again on apply) before they touch any public copy; a delta on a
 * base we do not hold triggers a snapshot fetch from its sender. Neighbours that stop
 * sending age out of the candidate set.
 *
 * A Peer takes part in one task (TaskSpec): the task fixes its topic, codec, keyframe
 * interval and fingerprint, and the Peer serves it on `/meshfl/1/task`. After an update is
 * rejected as 'wrong-fingerprint' it asks the sender for its task (rate-limited) and
 * reports what differs ('task:mismatch'). Build one with createPeer (create-peer.ts).
 */
import { TypedEventEmitter } from '@libp2p/interface';
import { type Dataset, featureSize } from '../data/dataset.ts';
import { createRng, type Rng } from '../data/rng.ts';
import { mergeWithReport } from '../merge/report.ts';
import type { Candidate, MergeContext, Strategy } from '../merge/types.ts';
import type { Layer, Weights } from '../model/weights.ts';
import { allFinite, sizeOfShape } from '../model/weights.ts';
import { FetchError } from '../net/errors.ts';
import type { Gossip, GossipMessage, Verdict } from '../net/gossip.ts';
import type { ScoringSplit, SharedPublicRows } from '../train/public-rows.ts';
import type { PeerTrainer, TrainAmount, TrainResult } from '../train/trainer.ts';
import { isBenignRejection } from '../wire/errors.ts';
import { maxEncodedSize, maxUpdateSize, type Update } from '../wire/message.ts';
import type { NormBoundOptions } from '../wire/norms.ts';
import { PublicCopies, PublicCopyEncoder } from '../wire/public-copies.ts';
import type { TaskSchema } from '../wire/schema.ts';
import type { SharedCopies } from '../wire/shared-copies.ts';
import { checkSnapshotRequest, encodeSnapshotRequest } from '../wire/snapshot.ts';
import { SNAPSHOT_PROTOCOL, updatesTopic } from '../wire/topic.ts';
import { gossipVerdict, validateUpdate } from '../wire/validate.ts';
import { AdaptiveDeadline, type DeadlineOptions, type WaitGate } from './deadline.ts';
import {
  type AccuracySnapshot,
  accuracySnapshot,
  type PeerEvents,
  type RejectedUpdate,
  type RoundClose,
  type RoundSummary,
} from './events.ts';
import { DEFAULT_NEIGHBOURS, defaultGossipSteps, defaultShunAfter, MAX_GOSSIP_STEPS } from './gossip-steps.ts';
import { Neighbourhood, PUSHES_PER_ROUND } from './neighbourhood.ts';
import { lagOf, withArrival } from './pace.ts';
import { type RateLimit, RateLimiter } from './rate-limit.ts';
import { SHUN_TERM_ROUNDS, Shunning } from './shunning.ts';
import { sameModel, type TaskSpec, taskWireSchema } from './task.ts';
import { fetchTask, serveTask, TaskProbeLimiter } from './task-exchange.ts';
import { describeTaskMismatch } from './task-mismatch.ts';

export { DEFAULT_NEIGHBOURS, defaultGossipSteps, MAX_GOSSIP_STEPS, NEIGHBOUR_GOSSIP_STEPS } from './gossip-steps.ts';

export interface PeerData {
  readonly train: Dataset;
  /** Small split for Bristle's integrator (about 10 samples per own class). */
  readonly validation: Dataset;
  readonly familiarClasses: readonly number[];
  /**
   * How many of the validation samples, at its end, are the task's public set (known to
   * every peer); the others are this peer's own. Default 0 (all its own).
   */
  readonly validationPublic?: number;
  /** Where round accuracy is measured; default the validation split. */
  readonly evaluation?: Dataset;
}

/**
 * Where a peer's local training runs: by default its own Trainer; a simulation may train
 * elsewhere (node/train-pool) and put the trained layers back into the peer's Trainer
 * before resolving. `signal` stops early, keeping the steps done.
 */
export interface LocalTraining {
  trainAsync(data: Dataset, amount: TrainAmount, options: { signal?: AbortSignal }): Promise<TrainResult>;
}

/** Bounds incoming updates must respect (docs/PROTOCOL.md "Validation"). */
export interface WireBounds {
  /** Absolute bound on values (default DEFAULT_VALUE_BOUND, src/model/bounds.ts); Infinity = off. */
  readonly valueBound?: number;
  /** Per-layer norm limits learned from accepted updates (src/wire/norms.ts); `false` = off. */
  readonly norms?: NormBoundOptions | false;
}

/**
 * A Byzantine behaviour in simulations: replaces what this peer publishes. It may wait
 * (a lockstep simulation holds publication until every peer closed the previous round);
 * `stop()` waits for it, so a waiting transform must settle when the run is stopped.
 */
export type OutgoingTransform = (own: Weights, round: number) => Weights | Promise<Weights>;

export interface PeerOptions {
  /**
   * The task: its id names the topic; its codec, keyframe interval and model seed (with the
   * trainer's exchanged layers) make the wire fingerprint; its local steps are the default
   * of `local`. The trainer's model must be the task's.
   */
  readonly task: TaskSpec;
  /** A resident Trainer, or a PooledTrainer (src/train/model-pool.ts) whose model exists only while in use. */
  readonly trainer: PeerTrainer;
  /** Runs the local training of each round; default `trainer` itself. */
  readonly training?: LocalTraining;
  readonly data: PeerData;
  readonly strategy: Strategy;
  readonly gossip: Gossip;
  /** Local training per round (a device's choice). Default { steps: task.localSteps }. */
  readonly local?: TrainAmount;
  /** A round closes once this many fresh neighbour updates arrived. Default 3. */
  readonly minFreshUpdates?: number;
  /** Round deadline learning (see deadline.ts). */
  readonly deadline?: Partial<DeadlineOptions>;
  /**
   * Decides when a wait for updates gives up instead of the wall-clock `deadline` (which is
   * then not used). Simulations on the in-process bus pass an IdleGate (idle-gate.ts): a
   * wait gives up only when every peer of the process waits, so a seeded run gives the same
   * numbers whatever the machine's load.
   */
  readonly waitGate?: WaitGate;
  /**
   * D: take updates from at most this many neighbours, chosen by peer sampling and
   * reshuffled as rounds go (src/peer/neighbourhood.ts), and push own updates only to the
   * peers that follow this one. 'all': every update on the task's gossip topic, from
   * anyone (each peer receives every peer's updates; such a peer does not exchange updates
   * with D-neighbour peers, which push). Default DEFAULT_NEIGHBOURS (8). With one merge per
   * round D = 8 trailed all-to-all by about 5 points at 30 peers (4-class shards); with
   * neighbour mode's default two gossip steps it is above it (docs/PERFORMANCE.md,
   * "Neighbours" and "Gossip steps").
   */
  readonly neighbours?: number | 'all';
  /** A neighbour not heard from for this many of our rounds leaves the candidate set. Default 3. */
  readonly staleAfterRounds?: number;
  /**
   * Gossip (merge) steps per round: after the round's merge the merged model is published
   * and merged again with the neighbours' newest copies, steps - 1 more times, before the
   * round is evaluated and the next local training starts; with more than one step, every
   * step waits for a fresh update from every current candidate (or the deadline). Each step
   * costs one more update to every follower and one more merge: update bytes per round x
   * steps, still independent of N. Default `defaultGossipSteps(neighbours)`: 2 with D
   * neighbours (a merge averages only D + 1 models; two steps put D = 8 at 30 peers above
   * all-to-all, docs/PERFORMANCE.md "Gossip steps"), 1 with 'all' (one merge already
   * averages everyone).
   */
  readonly gossipSteps?: number;
  /**
   * Shun a sender once this many of its last 2 x shunAfter merge verdicts were harm
   * (src/peer/shunning.ts): its updates are no longer merged, and with D neighbours another
   * peer takes its slot. 0 = never. Default `defaultShunAfter(neighbours)`: 2 with D
   * neighbours, 0 with 'all'.
   */
  readonly shunAfter?: number;
  /**
   * Rounds a sender's first shun lasts; each further shun of it doubles the term, and after
   * a term one more harm verdict shuns it again (src/peer/shunning.ts). 0 = for good.
   * Default SHUN_TERM_ROUNDS (8).
   */
  readonly shunRounds?: number;
  /**
   * What the optimizer's momentum does at the round's merge: 'keep' it (it still points
   * along this peer's own local drift), or 'reset' it, so the next local training starts
   * from the merged model without it. Default 'keep'.
   */
  readonly momentumAfterMerge?: 'keep' | 'reset';
  /** Evaluate local and merged accuracy every this many rounds (0 = never). Default 1. */
  readonly evaluateEvery?: number;
  /** Number of local samples announced to peers; default the training set size. */
  readonly announcedSamples?: number;
  readonly seed?: number;
  /** Byzantine behaviour (simulations and tests only). */
  readonly outgoing?: OutgoingTransform;
  /**
   * Wire bounds on incoming updates: rejected as 'out-of-range' (and penalised) before they
   * touch a public copy. `false` turns both off (simulations comparing merge rules without
   * the wire's help); the merge guard still drops values outside DEFAULT_VALUE_BOUND.
   */
  readonly wireBounds?: WireBounds | false;
  /**
   * Snapshot requests served per requesting peer and in total (token buckets); default
   * SNAPSHOT_RATE_LIMIT. An honest peer asks only after a sequence gap. `false` = no limit.
   */
  readonly snapshotRateLimit?: RateLimit | false;
  /** Time allowed for a snapshot fetch, ms. Default SNAPSHOT_TIMEOUT_MS. */
  readonly snapshotTimeoutMs?: number;
  /**
   * Continue a previous run of this peer id (a restarted daemon): round numbering starts at
   * `round`, and published seqs after `seq` (neighbours ignore seqs they have already seen).
   * The peer then merges its neighbours' models before it first trains (#catchUp).
   */
  readonly resume?: { readonly round: number; readonly seq: number };
  /**
   * Called synchronously before an update with this seq is encoded: a daemon records a
   * high-water mark durably here so that seqs never go backwards across restarts. A throw
   * skips this round's publication (reported as an 'error' event).
   */
  readonly reserveSeq?: (seq: number) => void;
  /**
   * Neighbours' public copies shared read-only with the other Peers of this process (a
   * simulation on the in-process Bus): each sender's copy is held once, not once per receiver.
   */
  readonly sharedCopies?: SharedCopies;
  /**
   * Results on the task's public validation rows shared with the other Peers of this
   * process: a candidate's copy is scored on them once, not once per receiver.
   */
  readonly sharedPublicRows?: SharedPublicRows;
}

/**
 * Default snapshot serving limits: a burst of 3 per peer, then one every 10 s; 20 at once
 * over all peers, then 2 per second. A snapshot is the whole model (a 20-byte request
 * returned ~940 KB), so unlimited serving is a bandwidth amplifier.
 */
export const SNAPSHOT_RATE_LIMIT: RateLimit = { burst: 3, perSecond: 0.1, totalBurst: 20, totalPerSecond: 2 };

/** The refusal a snapshot request over the rate limit gets (the requester tells it from failures). */
const RATE_LIMITED = 'snapshot rate limit';

/** A snapshot fetch that takes longer than this is abandoned (the next keyframe heals the gap). */
export const SNAPSHOT_TIMEOUT_MS = 10_000;

/** Defaults of the optional PeerOptions, resolved once in the constructor. */
export const PEER_DEFAULTS = {
  minFreshUpdates: 3,
  neighbours: DEFAULT_NEIGHBOURS as number | 'all',
  staleAfterRounds: 3,
  momentumAfterMerge: 'keep' as 'keep' | 'reset',
  evaluateEvery: 1,
  seed: 0,
  snapshotRateLimit: SNAPSHOT_RATE_LIMIT,
  snapshotTimeoutMs: SNAPSHOT_TIMEOUT_MS,
} as const;

/** PeerOptions with every default filled in. */
type ResolvedPeerOptions = PeerOptions & {
  readonly training: LocalTraining;
  readonly local: TrainAmount;
  readonly minFreshUpdates: number;
  readonly neighbours: number | 'all';
  readonly staleAfterRounds: number;
  readonly gossipSteps: number;
  readonly momentumAfterMerge: 'keep' | 'reset';
  readonly evaluateEvery: number;
  readonly seed: number;
  readonly snapshotRateLimit: RateLimit | false;
  readonly snapshotTimeoutMs: number;
  readonly shunAfter: number;
  readonly shunRounds: number;
};

function resolve(options: PeerOptions): ResolvedPeerOptions {
  return {
    ...options,
    training: options.training ?? options.trainer,
    local: options.local ?? { steps: options.task.localSteps },
    minFreshUpdates: options.minFreshUpdates ?? PEER_DEFAULTS.minFreshUpdates,
    neighbours: options.neighbours ?? PEER_DEFAULTS.neighbours,
    staleAfterRounds: options.staleAfterRounds ?? PEER_DEFAULTS.staleAfterRounds,
    gossipSteps: options.gossipSteps ?? defaultGossipSteps(options.neighbours ?? PEER_DEFAULTS.neighbours),
    momentumAfterMerge: options.momentumAfterMerge ?? PEER_DEFAULTS.momentumAfterMerge,
    evaluateEvery: options.evaluateEvery ?? PEER_DEFAULTS.evaluateEvery,
    seed: options.seed ?? PEER_DEFAULTS.seed,
    snapshotRateLimit: options.snapshotRateLimit ?? PEER_DEFAULTS.snapshotRateLimit,
    snapshotTimeoutMs: options.snapshotTimeoutMs ?? PEER_DEFAULTS.snapshotTimeoutMs,
    shunAfter: options.shunAfter ?? defaultShunAfter(options.neighbours ?? PEER_DEFAULTS.neighbours),
    shunRounds: options.shunRounds ?? SHUN_TERM_ROUNDS,
  };
}

/** Why `trainer`'s model is not the model of `task`, or undefined when it is. */
function modelProblem(task: TaskSpec, trainer: PeerTrainer): string | undefined {
  const model = trainer.model;
  if (!sameModel(model.spec, task.model)) return `the trainer's model is not the task's (${task.model.kind})`;
  if (model.numClasses !== task.classes) return `the model has ${model.numClasses} classes, the task ${task.classes}`;
  if (sizeOfShape(model.inputShape) !== sizeOfShape(task.inputShape)) {
    return `the model takes ${model.inputShape.join('x')} inputs, the task ${task.inputShape.join('x')}`;
  }
  return undefined;
}

/** Snapshots are fp32 keyframes. */
const FP32 = { kind: 'dense', values: 'fp32' } as const;

interface NeighbourState {
  /** Our round when its latest update was applied. */
  heardInRound: number;
  fresh: boolean;
  /** Our rounds its last updates arrived in, oldest first (its pace, as we see it: ./pace.ts). */
  updateRounds: number[];
}

/** Rounds a resumed peer tries to merge its neighbours' models before training (#catchUp). */
const CATCH_UP_ROUNDS = 3;

export class Peer extends TypedEventEmitter<PeerEvents> {
  readonly id: string;
  readonly task: TaskSpec;
  readonly taskId: string;
  readonly topic: string;
  readonly schema: TaskSchema;
  readonly trainer: PeerTrainer;
  readonly #options: ResolvedPeerOptions;
  readonly #encoder: PublicCopyEncoder;
  readonly #copies: PublicCopies;
  /** Updates the topic validator decoded, by message bytes, until the message is delivered. */
  readonly #validated = new WeakMap<Uint8Array, Update>();
  readonly #neighbours = new Map<string, NeighbourState>();
  /** Peers that ended their run (neighbourFinished), with the last seq they published. */
  readonly #finished = new Map<string, number>();
  readonly #deadline: AdaptiveDeadline;
  readonly #exchanged: ReadonlySet<string>;
  readonly #rng: Rng;
  /** In-flight snapshot fetches, awaited by stop(). */
  readonly #fetches = new Set<Promise<void>>();
  readonly #fetching = new Set<string>();
  /**
   * Pushes that arrived as gaps while the follow of their author was pending (its answer,
   * a snapshot, still on its way): applied in seq order once the follow is over, instead
   * of fetching another snapshot for each (Neighbourhood.followPending).
   */
  readonly #parked = new Map<string, Array<{ readonly seq: number; readonly bytes: Uint8Array }>>();
  readonly #snapshotLimiter: RateLimiter | undefined;
  readonly #taskProbes = new TaskProbeLimiter();
  /** Neighbour-bounded dissemination; undefined with `neighbours: 'all'`. */
  readonly #hood: Neighbourhood | undefined;
  /** Senders whose models kept harming our merges: not merged until their shun's term is over. */
  readonly #shunning: Shunning;
  /** Resumed from a checkpoint and not yet caught up with the neighbours (see #catchUp). */
  #catchUpPending: boolean;
  #catchUpRounds = 0;
  #round = 0;
  #publishedAt = 0;
  #running: Promise<void> | undefined;
  #abort = new AbortController();
  #wake: (() => void) | undefined;
  #unsubscribe: (() => void) | undefined;
  #bytesSent = 0;
  #bytesReceived = 0;
  #roundBytesReceived = 0;
  #roundBytesSent = 0;
  #lastMerged: AccuracySnapshot | undefined;
  /** The task's public validation rows in SharedPublicRows (found on the first merge). */
  #publicRowsId: number | undefined;

  constructor(options: PeerOptions) {
    super();
    const { task, trainer } = options;
    const problem = modelProblem(task, trainer);
    if (problem !== undefined) throw new RangeError(`peer of task ${task.taskId}: ${problem}`);
    this.#options = resolve(options);
    this.task = task;
    this.trainer = trainer;
    this.id = options.gossip.id;
    this.taskId = task.taskId;
    this.topic = updatesTopic(task.taskId);
    this.#exchanged = trainer.trainableLayers();
    this.schema = taskWireSchema(task, this.#exchangedWeights());
    this.#encoder = new PublicCopyEncoder({
      schema: this.schema,
      codec: task.codec,
      keyframeInterval: task.keyframeInterval,
      resumeAfterSeq: options.resume?.seq,
    });
    this.#round = options.resume?.round ?? 0;
    this.#catchUpPending = options.resume !== undefined;
    const bounds = options.wireBounds;
    this.#copies = new PublicCopies({
      schema: this.schema,
      valueBound: bounds === false ? Number.POSITIVE_INFINITY : bounds?.valueBound,
      norms: bounds === false ? false : bounds?.norms,
      ...(options.sharedCopies === undefined ? {} : { shared: options.sharedCopies }),
    });
    this.#deadline = new AdaptiveDeadline(options.deadline);
    const limit = this.#options.snapshotRateLimit;
    this.#snapshotLimiter = limit === false ? undefined : new RateLimiter(limit);
    this.#rng = createRng(this.#options.seed).fork(`peer-${options.gossip.id}`);
    const d = this.#options.neighbours;
    if (d !== 'all' && !(Number.isInteger(d) && d >= 1)) {
      throw new RangeError(`neighbours must be an integer >= 1 or 'all', got ${String(d)}`);
    }
    const steps = this.#options.gossipSteps;
    if (!(Number.isInteger(steps) && steps >= 1 && steps <= MAX_GOSSIP_STEPS)) {
      throw new RangeError(`gossipSteps must be an integer in [1, ${MAX_GOSSIP_STEPS}], got ${String(steps)}`);
    }
    this.#hood = d === 'all' ? undefined : this.#neighbourhood(d);
    this.#shunning = new Shunning({ after: this.#options.shunAfter, term: this.#options.shunRounds });
  }

  #neighbourhood(d: number): Neighbourhood {
    return new Neighbourhood({
      gossip: this.#options.gossip,
      schema: this.schema,
      neighbours: d,
      seed: this.#options.seed,
      maxUpdateBytes: maxUpdateSize(this.schema),
      // A neighbour publishes once per gossip step: the per-round push cap scales with them.
      pushesPerRound: PUSHES_PER_ROUND * this.#options.gossipSteps,
      onUpdate: (from, bytes) => this.#receivePush(from, bytes),
      onSnapshot: (from, bytes) => this.#applySnapshot(from, bytes),
      onDropped: (peer) => {
        // Its chain goes on without us: a later follow starts from a snapshot. Holding
        // only neighbours' copies keeps a peer's memory at D models.
        this.#copies.forget(peer);
        this.#neighbours.delete(peer);
        this.#parked.delete(peer);
        // A step waiting for it waits for the others only.
        this.#wake?.();
      },
      onFollowSettled: (peer) => this.#unpark(peer),
      onLeave: (peer, lastSeq) => this.neighbourFinished(peer, lastSeq),
      resync: () => this.#snapshot(),
      snapshotFor: (follower) =>
        this.#snapshotLimiter === undefined || this.#snapshotLimiter.take(follower) ? this.#snapshot() : undefined,
      onRefused: (from, reason, detail) => this.#emitRejected('update:rejected', from, reason, detail, 'sample'),
      onError: (err, context) => this.#emitError(err, context),
      onBytes: (sent, received) => {
        this.#bytesSent += sent;
        this.#roundBytesSent += sent;
        this.#bytesReceived += received;
        this.#roundBytesReceived += received;
      },
    });
  }

  get round(): number {
    return this.#round;
  }

  /** Seq of the last update this peer published (0 before the first). */
  get seq(): number {
    return this.#encoder.seq;
  }

  get bytesSent(): number {
    return this.#bytesSent;
  }

  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** Merged accuracy after the latest evaluated round. */
  get lastAccuracy(): AccuracySnapshot | undefined {
    return this.#lastMerged;
  }

  /** Peers this one follows (at most D), or undefined with `neighbours: 'all'`. */
  following(): string[] | undefined {
    return this.#hood?.neighbours();
  }

  /** Peers that follow this one (its updates go to them), or undefined with `neighbours: 'all'`. */
  followers(): string[] | undefined {
    return this.#hood?.followers();
  }

  /**
   * The round `peer`'s shun ends (Infinity: for good), or undefined if this peer does not
   * shun it (src/peer/shunning.ts).
   */
  shunnedUntil(peer: string): number | undefined {
    return this.#shunning.until(peer);
  }

  /** Neighbours whose public copy is currently a merge candidate. */
  neighbours(): string[] {
    return [...this.#neighbours.entries()]
      .filter(([, s]) => this.#round - s.heardInRound < this.#options.staleAfterRounds)
      .map(([id]) => id);
  }

  /** Every neighbour whose public copy we hold: its seq, and our round when it was last updated. */
  heard(): Array<{ peer: string; seq: number; round: number }> {
    return [...this.#neighbours.entries()].flatMap(([peer, state]) => {
      const copy = this.#copies.get(peer);
      return copy === undefined ? [] : [{ peer, seq: copy.seq, round: state.heardInRound }];
    });
  }

  /**
   * `peer` ended its run (a followed peer says so with a `leave`, docs/PROTOCOL.md "Leave";
   * on the in-process bus the simulation runner also says so directly): `lastSeq`, its last
   * published seq, is the last update that will come from it. Once that update is held and
   * merged (or the peer is no longer a neighbour), a step no longer waits for it; a step
   * whose candidates have all ended closes at once instead of waiting for its deadline. Its
   * last copy stays a candidate while it is fresh enough. A higher seq from it later undoes
   * this (it runs again).
   */
  neighbourFinished(peer: string, lastSeq: number): void {
    if (peer === this.id || this.#finished.has(peer)) return;
    this.#finished.set(peer, lastSeq);
    this.#wake?.();
  }

  /** The latest model received from `peer` (its decoded public copy), if any. */
  receivedModel(peer: string): Weights | undefined {
    return this.#copies.get(peer)?.weights;
  }

  /** Subscribes, serves snapshots and the task; call before `run`/`runRound`. */
  async start(): Promise<void> {
    const gossip = this.#options.gossip;
    this.#unsubscribe = gossip.subscribe(
      this.topic,
      (m) => this.#onMessage(m),
      (m) => this.#validate(m),
      { maxPayloadBytes: maxUpdateSize(this.schema) },
    );
    await gossip.handle(
      SNAPSHOT_PROTOCOL,
      async (from, request) => {
        const check = checkSnapshotRequest(request, this.schema);
        if (!check.ok) {
          this.#emitRejected('update:rejected', from, `request-${check.reason}`, check.detail, 'snapshot');
          throw new Error(`bad snapshot request: ${check.reason} ${check.detail}`);
        }
        if (this.#snapshotLimiter !== undefined && !this.#snapshotLimiter.take(from)) {
          this.#emitRejected(
            'update:rejected',
            from,
            'rate-limited',
            'snapshot requests over the rate limit',
            'snapshot',
          );
          throw new Error(`${RATE_LIMITED}: retry later`);
        }
        return this.#snapshot() ?? new Uint8Array(0);
      },
      { stage: 'snapshot' },
    );
    await serveTask(gossip, this.task);
    await this.#hood?.start();
    gossip.addEventListener('peer:connect', this.#onConnect);
    gossip.addEventListener('peer:disconnect', this.#onDisconnect);
  }

  /** Runs rounds until `stop()` or `rounds` rounds are done. */
  run(rounds = Number.POSITIVE_INFINITY): Promise<void> {
    if (this.#running) throw new Error('peer is already running');
    this.#hood?.resume();
    this.#running = (async () => {
      try {
        while (!this.#abort.signal.aborted && this.#round < rounds) await this.runRound();
        // The run is over: followers stop waiting for us (in the background: we still serve).
        if (!this.#abort.signal.aborted) void this.#hood?.leave(this.seq);
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  /** One full round. */
  async runRound(): Promise<RoundSummary> {
    const round = this.#round;
    const signal = this.#abort.signal;
    const roundStart = performance.now();
    this.dispatchEvent(new CustomEvent('round:start', { detail: { round } }));
    this.#roundBytesReceived = 0;
    this.#roundBytesSent = 0;
    for (const peer of this.#shunning.release(round)) {
      this.#hood?.readmit(peer);
      this.dispatchEvent(new CustomEvent('peer:readmitted', { detail: { peer, round } }));
    }
    // Neighbours not heard from lately are followed again (they may have dropped us).
    this.#hood?.tick(round, (peer) => {
      const heard = this.#neighbours.get(peer)?.heardInRound;
      return heard === undefined ? round > 0 : round - heard >= this.#options.staleAfterRounds;
    });

    // A round starts on a turn of the event loop. On the in-process bus everything else can
    // run as promise jobs for minutes: timers and the engine's own tasks would wait (its
    // garbage collection among them, so freed models piled up: 8 MiB of RSS per peer
    // instead of 3 at 100 peers, docs/PERFORMANCE.md "In-process engine memory").
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    const caughtUp = this.#catchUpPending ? await this.#catchUp(round, signal) : undefined;
    const start = this.trainer.getWeights();
    const reference = start.filter((l: Layer) => this.#exchanged.has(l.name));
    const trained = await this.#options.training.trainAsync(this.#options.data.train, this.#options.local, {
      signal,
    });
    // A diverged step (too high a learning rate, a bad sample) leaves NaN/Infinity in the
    // model: never publish or merge that. Go back to the round's start model, forget the
    // momentum that carried the blow-up, say so, and take part in the round as before.
    // Read once: publishing and the merge below use the same trained model (each read copies
    // the whole model out of the backend).
    let trainedWeights = this.trainer.getWeights();
    if (!allFinite(trainedWeights)) {
      trainedWeights = start;
      this.trainer.setWeights(start);
      this.trainer.resetOptimizer();
      this.#emitError(
        new Error(`round ${round}: non-finite weights after ${trained.steps} steps (loss ${trained.loss})`),
        "local training diverged, restored the round's start model (lower the learning rate?)",
      );
    }
    const evalEvery = this.#options.evaluateEvery;
    const evaluateNow = evalEvery > 0 && round % evalEvery === 0;
    const evalSet = this.#options.data.evaluation ?? this.#options.data.validation;
    const local = evaluateNow ? accuracySnapshot(this.trainer.evaluate(evalSet)) : undefined;

    await this.#publish(round, this.#exchangedOf(trainedWeights));

    const waitStart = performance.now();
    const closedBy = await this.#awaitUpdates(signal, this.#stepWanted(), this.#candidateIds());
    const stepsClosedBy: RoundClose[] = [closedBy];
    let waitMs = performance.now() - waitStart;

    const candidates = this.#candidates();
    const freshCandidates = candidates.filter((c) => this.#neighbours.get(c.peer)?.fresh === true).length;
    const mergeStart = performance.now();
    const { report } = this.#mergeStep(round, reference, candidates, trainedWeights);
    let mergeMs = performance.now() - mergeStart;
    // Further gossip steps: publish the merged model, merge again with the neighbours'
    // latest copies (their merged models, once they have published them).
    for (let step = 1; step < this.#options.gossipSteps && !signal.aborted; step++) {
      const wanted = this.#stepWanted();
      const waitingFor = this.#candidateIds();
      await this.#publish(round);
      const stepWait = performance.now();
      stepsClosedBy.push(await this.#awaitUpdates(signal, wanted, waitingFor));
      waitMs += performance.now() - stepWait;
      const stepMerge = performance.now();
      this.#mergeStep(round, reference, this.#candidates());
      mergeMs += performance.now() - stepMerge;
    }
    if (this.#options.momentumAfterMerge === 'reset') this.trainer.resetOptimizer();

    const merged = evaluateNow ? accuracySnapshot(this.trainer.evaluate(evalSet)) : undefined;
    if (merged) this.#lastMerged = merged;
    this.#round = round + 1;
    const summary: RoundSummary = {
      round,
      trainLoss: trained.loss,
      trainMs: trained.elapsedMs,
      waitMs,
      mergeMs,
      roundMs: performance.now() - roundStart,
      closedBy,
      stepsClosedBy,
      candidates: candidates.length,
      ...(caughtUp === undefined ? {} : { caughtUp }),
      candidateLags: candidates.map((c) => this.#encoder.seq - c.seq),
      freshCandidates,
      ...(this.#hood === undefined ? {} : { followers: this.#hood.followers().length }),
      ...(this.#shunning.after > 0 ? { shunned: this.#shunning.size } : {}),
      merge: report,
      local,
      merged,
      bytesSent: this.#roundBytesSent,
      bytesReceived: this.#roundBytesReceived,
      totalBytesSent: this.#bytesSent,
      totalBytesReceived: this.#bytesReceived,
    };
    this.dispatchEvent(new CustomEvent('round:end', { detail: summary }));
    return summary;
  }

  /**
   * A peer resumed from a checkpoint merges its neighbours' models before it trains: they
   * went on while it was down, so its first models would be behind theirs, and a merge can
   * reject a model that is behind like a step back (leave-group-out; class progress, when
   * on) and, twice over, shun its sender for a term (docs/ALGORITHMS.md "Shunning"). Waits
   * for minFreshUpdates copies (snapshots from its follows) or the round's deadline; with
   * none in, tries again at the next round, up to CATCH_UP_ROUNDS. Returns how many it merged.
   */
  async #catchUp(round: number, signal: AbortSignal): Promise<number> {
    this.#catchUpRounds++;
    const reference = this.#exchangedWeights();
    await this.#awaitUpdates(signal, this.#options.minFreshUpdates, this.#candidateIds());
    const candidates = this.#candidates();
    // Nothing in yet (follows still on their way): try again next round, a few times.
    if (candidates.length === 0 || signal.aborted) {
      if (this.#catchUpRounds >= CATCH_UP_ROUNDS) this.#catchUpPending = false;
      return 0;
    }
    this.#catchUpPending = false;
    this.#mergeStep(round, reference, candidates);
    return candidates.length;
  }

  /**
   * Fresh updates a merge waits for. With one gossip step: minFreshUpdates. With several:
   * every current candidate (or the deadline), at every step: a step that closes on the
   * first few merges the others' older copies again, and the peers drift out of phase
   * (merging models up to two rounds old; docs/PERFORMANCE.md, "Neighbours").
   */
  #stepWanted(): number {
    const min = this.#options.minFreshUpdates;
    return this.#options.gossipSteps === 1 ? min : Math.max(min, this.#candidates().length);
  }

  /**
   * Merges own model with `candidates`, installs the result, and marks every neighbour as
   * used. `current`: the model's weights as they are now, when the caller has just read them.
   */
  #mergeStep(
    round: number,
    reference: Weights,
    candidates: Candidate[],
    current: Weights = this.trainer.getWeights(),
  ): ReturnType<typeof mergeWithReport> {
    const own = this.#exchangedOf(current);
    const result = mergeWithReport(
      this.#options.strategy,
      own,
      candidates,
      this.#mergeContext(round, reference, current, candidates),
    );
    this.trainer.setLayers(result.weights);
    for (const s of this.#neighbours.values()) s.fresh = false;
    if (result.report !== undefined)
      this.dispatchEvent(new CustomEvent('merge:report', { detail: { round, report: result.report } }));
    for (const peer of this.#shunning.observe(result.report, round)) {
      this.#hood?.shun(peer);
      const until = this.#shunning.until(peer) ?? Number.POSITIVE_INFINITY;
      this.dispatchEvent(new CustomEvent('peer:shunned', { detail: { peer, round, until } }));
    }
    return result;
  }

  /** Stops after the current step; waits for the loop and in-flight fetches; leaves the topic. */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#wake?.();
    try {
      await this.#running;
    } finally {
      this.#running = undefined;
      // Leaving: followers stop waiting for us (bounded by LEAVE_TIMEOUT_MS).
      if (this.#hood !== undefined && !this.#hood.left) await this.#hood.leave(this.seq);
      await Promise.allSettled([...this.#fetches]);
      await this.#hood?.stop();
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
      this.#options.gossip.removeEventListener('peer:connect', this.#onConnect);
      this.#options.gossip.removeEventListener('peer:disconnect', this.#onDisconnect);
    }
  }

  /** Our public copy as a snapshot (fp32 keyframe), seeded for receivers in this process. */
  #snapshot(): Uint8Array | undefined {
    const bytes = this.#encoder.snapshot();
    const copy = this.#encoder.current;
    if (bytes !== undefined && copy !== undefined) this.#options.sharedCopies?.seed(bytes, undefined, copy, this.id);
    return bytes;
  }

  /** The exchanged (trainable) layers of the current model. */
  #exchangedWeights(): Weights {
    return this.#exchangedOf(this.trainer.getWeights());
  }

  /** The exchanged layers of `w`. */
  #exchangedOf(w: Weights): Weights {
    return w.filter((l: Layer) => this.#exchanged.has(l.name));
  }

  /** Encodes and sends `exchanged` (default: the current model's exchanged layers). */
  async #publish(round: number, exchanged: Weights = this.#exchangedWeights()): Promise<number> {
    let outgoing = exchanged;
    if (this.#options.outgoing) outgoing = await this.#options.outgoing(outgoing, round);
    const samples = this.#options.announcedSamples ?? this.#options.data.train.y.length;
    try {
      this.#options.reserveSeq?.(this.#encoder.seq + 1);
    } catch (err) {
      this.#emitError(err, 'seq reservation failed, not publishing this round');
      return 0;
    }
    const before = this.#encoder.current;
    const encoded = this.#encoder.encodeUpdate(outgoing, samples);
    // Receivers in this process get our x̂ itself instead of computing their own copy of it,
    // and our decoding of the bytes instead of decoding them again.
    this.#options.sharedCopies?.seedDecoded(encoded.bytes, encoded.checked);
    this.#options.sharedCopies?.seed(
      encoded.bytes,
      encoded.kind === 'keyframe' ? undefined : before,
      encoded.publicCopy,
      this.id,
    );
    this.#copies.observeOwn(encoded);
    this.#publishedAt = performance.now();
    try {
      // With neighbours: pushed to each follower in the background; else one gossip publish.
      const recipients =
        this.#hood !== undefined
          ? this.#hood.push(encoded.bytes)
          : (await this.#options.gossip.publish(this.topic, encoded.bytes)).recipients;
      const bytes = encoded.bytes.byteLength * recipients;
      this.#bytesSent += bytes;
      this.#roundBytesSent += bytes;
      return bytes;
    } catch (err) {
      this.#emitError(err, 'publish failed');
      return 0;
    }
  }

  #freshCount(): number {
    let n = 0;
    for (const s of this.#neighbours.values()) if (s.fresh) n++;
    return n;
  }

  /**
   * Resolves when `wanted` fresh updates arrived (less one per candidate of `waitingFor`
   * from which nothing more can come: no longer a neighbour, or ended its run with its
   * last update held and used), or when every candidate of `waitingFor` has ended its
   * run and its last update is held; else at the deadline (wall clock, or the wait
   * gate's), or when the peer stops.
   */
  #awaitUpdates(signal: AbortSignal, wanted: number, waitingFor: readonly string[]): Promise<RoundClose> {
    const ready = (): boolean =>
      this.#freshCount() >= wanted - this.#exhaustedOf(waitingFor) || this.#allFinished(waitingFor);
    if (signal.aborted) return Promise.resolve('stopped');
    if (ready()) return Promise.resolve('enough-updates');
    return new Promise<RoundClose>((resolve) => {
      const gate = this.#options.waitGate;
      let done = false;
      let release: (() => void) | undefined;
      const timer = gate === undefined ? setTimeout(() => finish('deadline'), this.#deadline.current()) : undefined;
      const finish = (why: RoundClose): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        release?.();
        this.#wake = undefined;
        resolve(why);
      };
      this.#wake = () => {
        if (signal.aborted) finish('stopped');
        else if (ready()) finish('enough-updates');
      };
      if (gate !== undefined) release = gate.wait(this.id, () => finish('deadline'));
    });
  }

  /** Ids of the current merge candidates (what a step waits for). */
  #candidateIds(): string[] {
    return this.#candidates().map((c) => c.peer);
  }

  /**
   * How many of `waitingFor` nothing fresh can come from: no longer neighbours (dropped),
   * or ended their run with their last update held and already merged (not fresh). Without
   * the second, a step whose candidates were partly finished and partly running waited
   * for its deadline (the last round of a libp2p run: 20 s at first).
   */
  #exhaustedOf(waitingFor: readonly string[]): number {
    let n = 0;
    for (const peer of waitingFor) {
      const state = this.#neighbours.get(peer);
      if (state === undefined) n++;
      else if (!state.fresh) {
        const last = this.#finished.get(peer);
        if (last !== undefined && (this.#copies.get(peer)?.seq ?? 0) >= last) n++;
      }
    }
    return n;
  }

  /**
   * True when no update can come from any of `waitingFor` (non-empty) any more: each ended
   * its run and its last published seq is held, or is no longer a neighbour. A candidate
   * still running may publish again (in its last round, its final update), so it is waited
   * for even when fresh: the step then merges everyone's final copies, whatever the order
   * in which the peers finished.
   */
  #allFinished(waitingFor: readonly string[]): boolean {
    if (waitingFor.length === 0) return false;
    for (const peer of waitingFor) {
      if (!this.#neighbours.has(peer)) continue;
      const last = this.#finished.get(peer);
      if (last === undefined || (this.#copies.get(peer)?.seq ?? 0) < last) return false;
    }
    return true;
  }

  #candidates(): Candidate[] {
    const staleAfter = this.#options.staleAfterRounds;
    const hood = this.#hood;
    const out: Candidate[] = [];
    for (const [peer, state] of this.#neighbours) {
      if (this.#round - state.heardInRound >= staleAfter || this.#shunning.has(peer)) continue;
      if (hood !== undefined && (!hood.isNeighbour(peer) || out.length >= hood.sampler.size)) continue;
      const copy = this.#copies.get(peer);
      if (copy)
        out.push({
          peer,
          seq: copy.seq,
          weights: copy.weights,
          samples: copy.samples,
          lag: lagOf(state.updateRounds, this.#round, this.#options.gossipSteps),
        });
    }
    return out;
  }

  /**
   * How a merge scores V: own rows and the task's public rows apart, so the public rows'
   * results of `candidates`' copies can come from other peers of this process.
   */
  #scoringSplit(candidates: readonly Candidate[]): ScoringSplit | undefined {
    const validation = this.#options.data.validation;
    const n = validation.y.length;
    const publicRows = Math.min(n, this.#options.data.validationPublic ?? 0);
    if (publicRows === 0) return undefined;
    const from = n - publicRows;
    const shared = this.#options.sharedPublicRows;
    if (shared === undefined || this.#options.sharedCopies === undefined) return { from };
    this.#publicRowsId ??= shared.rowsId(
      validation.x.subarray(from * featureSize(validation)),
      validation.y.subarray(from),
      this.trainer.evalBatchSize,
    );
    // Only the candidates' copies, which SharedCopies holds read-only for every receiver.
    const copies = new Set<Float32Array>();
    for (const c of candidates) for (const l of c.weights) copies.add(l.values);
    return { from, share: shared.share(this.#publicRowsId, (values) => copies.has(values)) };
  }

  #mergeContext(round: number, reference: Weights, full: Weights, candidates: readonly Candidate[]): MergeContext {
    const validation = this.#options.data.validation;
    /** w's layers over the trained model's (w may hold only the exchanged layers). */
    const complete = (w: Weights): Weights => {
      const byName = new Map(w.map((l) => [l.name, l]));
      return full.map((l) => byName.get(l.name) ?? l);
    };
    const scoring = this.trainer.mergeScoring(validation, this.#scoringSplit(candidates));
    const linear = scoring.linearInput;
    return {
      evaluate: (w) => scoring.evaluate(complete(w)),
      ...(linear === undefined
        ? {}
        : {
            linearInput: {
              kernel: linear.kernel,
              project: (values: Float32Array) => linear.project(values),
              evaluateProjected: (p: Float32Array, w: Weights) => linear.evaluateProjected(p, complete(w)),
            },
          }),
      validationSplit: {
        labels: validation.y,
        privateCount: validation.y.length - Math.min(validation.y.length, this.#options.data.validationPublic ?? 0),
      },
      familiarClasses: this.#options.data.familiarClasses,
      numClasses: this.trainer.model.numClasses,
      outputLayer: this.trainer.model.outputLayer,
      trainableLayers: this.#exchanged,
      ownSamples: this.#options.data.train.y.length,
      reference,
      round,
      neighbours: this.#options.neighbours,
      rng: this.#rng.fork(`merge-${round}`),
      // Candidates' copies are never written; in one process they are shared and scanned once.
      ...(this.#options.sharedCopies === undefined ? {} : { scans: this.#options.sharedCopies }),
    };
  }

  #onMessage(m: GossipMessage): void {
    this.#bytesReceived += m.data.byteLength;
    this.#roundBytesReceived += m.data.byteLength;
    // The validator already decoded and checked these bytes: apply that (apply re-checks the
    // sequence and overflow against the current copy); decode again only if it did not run.
    const validated = this.#validated.get(m.data);
    this.#validated.delete(m.data);
    if (this.#shunning.has(m.from) || (this.#hood !== undefined && !this.#hood.isNeighbour(m.from))) return;
    this.#take(m.from, m.data, validated);
  }

  /**
   * An update pushed by a neighbour (its bytes are counted by the neighbourhood). Returns
   * why it was refused, or undefined (also for a late or duplicate one, which is ordinary).
   */
  #receivePush(from: string, bytes: Uint8Array): string | undefined {
    const refused = this.#take(from, bytes, undefined);
    return refused === 'stale-seq' || refused === 'replayed' ? undefined : refused;
  }

  /** Validates (unless done) and applies one update; returns the refusal reason if any. */
  #take(from: string, data: Uint8Array, validated: Update | undefined): string | undefined {
    const m = { from, data };
    const result = validated ? this.#copies.apply(m.from, validated, m.data) : this.#copies.receive(m.from, m.data);
    switch (result.kind) {
      case 'applied': {
        // A peer that announced its end and publishes again runs again (a restarted daemon).
        const last = this.#finished.get(m.from);
        if (last !== undefined && result.copy.seq > last) this.#finished.delete(m.from);
        this.#markHeard(m.from);
        this.dispatchEvent(
          new CustomEvent('update:accepted', {
            detail: { from: m.from, seq: result.copy.seq, bytes: m.data.byteLength },
          }),
        );
        break;
      }
      case 'gap':
        if (this.#hood?.followPending(m.from) === true) this.#park(m.from, result.seq, m.data);
        else this.#fetchSnapshot(m.from);
        break;
      case 'rejected':
        this.#reject(m.from, result.reason, result.detail);
        return result.reason;
      default: {
        const never: never = result;
        throw new Error(`unhandled apply result ${JSON.stringify(never)}`);
      }
    }
    return undefined;
  }

  /** Gossip topic validator: rejects before gossip forwards anything; counts what it refuses. */
  #validate(m: GossipMessage): Verdict {
    // With neighbours, the topic is for discovery: updates come by push from followed peers.
    if (this.#shunning.has(m.from)) return 'ignore';
    if (this.#hood !== undefined && !this.#hood.isNeighbour(m.from)) return 'ignore';
    const result = validateUpdate(m.data, this.#copies.contextFor(m.from));
    if (result.ok) this.#validated.set(m.data, result.update);
    const verdict = gossipVerdict(result);
    if (!result.ok) {
      // gossipsub penalises the sender itself on 'reject'; we only report it.
      const event = verdict === 'reject' ? 'update:rejected' : 'update:ignored';
      this.#emitRejected(event, m.from, result.reason, result.detail, 'validation');
    }
    return verdict;
  }

  #markHeard(from: string): void {
    const state = this.#neighbours.get(from);
    // A delay since our publication: none before the first (a resumed peer's catch-up merge
    // marks neighbours stale before it has published anything).
    if (state && !state.fresh && this.#publishedAt > 0) this.#deadline.observe(performance.now() - this.#publishedAt);
    // Its pace (./pace.ts): a neighbour we stopped following or shunned was forgotten and
    // starts anew; the gaps of a slower one's bursts do not reset it.
    const updateRounds = withArrival(state?.updateRounds ?? [], this.#round, this.#options.gossipSteps);
    this.#neighbours.set(from, { heardInRound: this.#round, fresh: true, updateRounds });
    this.#wake?.();
  }

  #reject(from: string, reason: string, detail: string, stage: RejectedUpdate['stage'] = 'validation'): void {
    if (!isBenignRejection(reason)) this.#options.gossip.penalize(from, reason);
    this.#emitRejected('update:rejected', from, reason, detail, stage);
  }

  #emitRejected(
    event: 'update:rejected' | 'update:ignored',
    from: string,
    reason: string,
    detail: string,
    stage: RejectedUpdate['stage'],
  ): void {
    this.dispatchEvent(new CustomEvent(event, { detail: { from, reason, detail, stage } }));
    if (reason === 'wrong-fingerprint') this.#probeTask(from);
  }

  /**
   * Asks `from` for its task after a 'wrong-fingerprint' rejection and reports what differs
   * ('task:mismatch'). At most once per sender per TASK_PROBE_INTERVAL_MS, only for
   * connected peers; owned by #fetches, awaited in stop().
   */
  #probeTask(from: string): void {
    if (this.#abort.signal.aborted || !this.#options.gossip.peers().includes(from)) return;
    if (!this.#taskProbes.take(from, performance.now())) return;
    const probe = (async () => {
      try {
        await this.#reportMismatch(from);
      } catch (err) {
        this.#emitError(err, `task probe of ${from} failed`);
      }
    })();
    this.#fetches.add(probe);
    void probe.finally(() => this.#fetches.delete(probe));
  }

  /** One probe: fetch, validate, describe (or reject an answer that is not a task). */
  async #reportMismatch(from: string): Promise<void> {
    const result = await fetchTask(this.#options.gossip, from, this.#abort.signal);
    if (result.ok) {
      const described = describeTaskMismatch(this.task, result.task, { peer: from });
      // Equal where the fingerprint looks, yet another fingerprint: the trained layers
      // (trainable "head" vs "all") or the meshfl version differ, neither of which a task names.
      const mismatch = described.blocking
        ? described
        : {
            ...described,
            summary: `${from} runs this task but its updates carry another fingerprint: check that both train the same layers (trainable "all" or "head") and run the same meshfl version`,
          };
      this.dispatchEvent(new CustomEvent('task:mismatch', { detail: { from, theirs: result.task, mismatch } }));
    } else if (result.reason === 'invalid-task') {
      this.#reject(from, 'invalid-task', result.detail, 'task');
    }
    // 'unavailable': the rejection already said what happened; the next probe may reach it.
  }

  /** Holds a push that came before the answer to our follow of its author (at most a round's pushes). */
  #park(from: string, seq: number, bytes: Uint8Array): void {
    const held = this.#parked.get(from) ?? [];
    held.push({ seq, bytes });
    const cap = PUSHES_PER_ROUND * this.#options.gossipSteps;
    if (held.length > cap) held.splice(0, held.length - cap);
    this.#parked.set(from, held);
  }

  /**
   * The follow of `from` is over: its held pushes apply in seq order on the snapshot it
   * answered with. Those the snapshot already covers are stale; if it brought none (a
   * failed or empty answer), the first is a gap again and fetches a snapshot, as any gap.
   */
  #unpark(from: string): void {
    const held = this.#parked.get(from);
    this.#parked.delete(from);
    if (held === undefined || this.#abort.signal.aborted || !(this.#hood?.isNeighbour(from) ?? false)) return;
    held.sort((a, b) => a.seq - b.seq);
    for (const { bytes } of held) this.#take(from, bytes, undefined);
  }

  /** Fetches `from`'s current public copy; owned by #fetches, awaited in stop(). */
  #fetchSnapshot(from: string): void {
    if (this.#fetching.has(from) || this.#abort.signal.aborted) return;
    // Snapshots come only from their author (its public copy is not signed when another
    // peer relays it). An author we are not connected to is healed by its next keyframe;
    // a followed neighbour is reachable (it pushes to us).
    if (!(this.#hood?.isNeighbour(from) ?? false) && !this.#options.gossip.peers().includes(from)) return;
    this.#fetching.add(from);
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#options.snapshotTimeoutMs)]);
    const request = encodeSnapshotRequest({ taskId: this.taskId, fingerprint: this.schema.fingerprint });
    const task = (async () => {
      try {
        const bytes = await this.#options.gossip.fetch(from, SNAPSHOT_PROTOCOL, request, {
          signal,
          maxResponseBytes: maxEncodedSize(this.schema, FP32),
        });
        if (bytes.byteLength === 0) return; // it has published nothing yet
        this.#bytesReceived += bytes.byteLength;
        this.#applySnapshot(from, bytes);
      } catch (err) {
        if (err instanceof FetchError && err.code === 'too-large') {
          // Larger than our model's fp32 keyframe: not a snapshot of this task.
          this.#reject(from, 'too-large', `snapshot: ${err.message}`, 'snapshot');
        } else if (err instanceof FetchError && err.code === 'remote-error' && err.message.includes(RATE_LIMITED)) {
          // The author's snapshot rate limit (a peer that re-follows often meets it): its
          // next keyframe, or a later follow, heals the gap. Not an error of this peer.
        } else if (!this.#abort.signal.aborted) {
          this.#emitError(err, `snapshot fetch from ${from} failed`);
        }
      } finally {
        this.#fetching.delete(from);
      }
    })();
    this.#fetches.add(task);
    void task.finally(() => this.#fetches.delete(task));
  }

  /** A snapshot of `from` (fetched after a gap, or the answer to a follow). */
  #applySnapshot(from: string, bytes: Uint8Array): void {
    const result = this.#copies.receive(from, bytes);
    if (result.kind === 'applied') {
      this.#markHeard(from);
      this.dispatchEvent(new CustomEvent('snapshot:fetched', { detail: { from, seq: result.copy.seq } }));
    } else if (result.kind === 'rejected' && !isBenignRejection(result.reason)) {
      this.#reject(from, result.reason, `snapshot: ${result.detail}`, 'snapshot');
    }
  }

  readonly #onConnect = (e: CustomEvent<string>): void => {
    this.dispatchEvent(new CustomEvent('peer:connect', { detail: e.detail }));
  };

  readonly #onDisconnect = (e: CustomEvent<string>): void => {
    this.dispatchEvent(new CustomEvent('peer:disconnect', { detail: e.detail }));
  };

  #emitError(err: unknown, context: string): void {
    const error = new Error(`${context}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    this.dispatchEvent(new CustomEvent('error', { detail: error }));
  }
}
