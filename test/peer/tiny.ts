/**
 * Fixtures for the fast Peer tests: a tiny MLP (4 inputs, 4 hidden units, 3 classes) on
 * seeded synthetic data, peers on the in-process Bus, and scripted neighbours ("puppets")
 * that publish hand-made updates with their own PublicCopyEncoder and answer snapshot
 * requests as the test wants. Nothing here waits on wall-clock time: tests wait on events,
 * on `bus.flush()` or on event-loop turns, and use timeouts only as hang guards.
 */
import type { Dataset } from '../../src/data/dataset.ts';
import { createRng } from '../../src/data/rng.ts';
import { makeSynthetic } from '../../src/data/synthetic.ts';
import { createStrategy } from '../../src/merge/index.ts';
import type { Weights } from '../../src/model/weights.ts';
import type { Gossip, GossipMessage, MessageHandler, Responder, Validator } from '../../src/net/gossip.ts';
import type { Bus } from '../../src/net/inproc-bus.ts';
import { createTaskTrainer, taskModelLayout } from '../../src/peer/create-peer.ts';
import type { PeerEvents, RejectedUpdate, RoundSummary } from '../../src/peer/events.ts';
import { type LocalTraining, Peer, type PeerData, type PeerOptions } from '../../src/peer/peer.ts';
import { parseTaskSpec, type TaskSpec, taskWireSchema } from '../../src/peer/task.ts';
import { initBackend } from '../../src/train/backend.ts';
import type { TrainResult } from '../../src/train/trainer.ts';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import { type EncodedUpdate, PublicCopyEncoder } from '../../src/wire/public-copies.ts';
import type { TaskSchema } from '../../src/wire/schema.ts';
import { SNAPSHOT_PROTOCOL, updatesTopic } from '../../src/wire/topic.ts';

export const TINY_TASK = 'tiny-peer-test';
export const TOPIC = updatesTopic(TINY_TASK);
/** Hang guard for one test: far above what any test needs, even on a loaded machine. */
export const HANG_GUARD = 20_000;
/** A deadline no test waits for: reaching it means the behaviour under test is broken. */
export const NEVER_MS = 30_000;

const FEATURES = 4;
const CLASSES = 3;
/** Same initial model on every peer (common init), as in real deployments. */
const MODEL_SEED = 11;

/** The tiny peers' task: a 4-4-3 MLP, two real SGD steps per round, fp32 updates. */
export const TINY_SPEC: TaskSpec = parseTaskSpec({
  taskId: TINY_TASK,
  model: { kind: 'mlp', hidden: [4] },
  modelSeed: MODEL_SEED,
  codec: 'fp32',
  strategy: 'mean',
  batchSize: 16,
  learningRate: 0.1,
  localSteps: 2,
  dataset: 'custom',
  inputShape: [FEATURES],
  classes: CLASSES,
});

export async function tinyBackend(): Promise<void> {
  await initBackend('wasm');
}

export function tinyData(seed: number): PeerData {
  const { train, test } = makeSynthetic({
    numClasses: CLASSES,
    trainSamples: 48,
    testSamples: 24,
    featureShape: [FEATURES],
    seed,
  });
  return { train, validation: test, familiarClasses: [0, 1, 2] };
}

/** The schema every tiny peer has (all layers of the tiny MLP are exchanged). */
export function tinySchema(task: TaskSpec = TINY_SPEC): TaskSchema {
  return taskWireSchema(task, taskModelLayout(task));
}

/**
 * A Peer of TINY_SPEC (or `options.task`) on the given gossip. Defaults: mean strategy, two
 * real SGD steps per round, close after one fresh update, a deadline no test reaches, and
 * updates over the gossip topic (`neighbours: 'all'`), where the Puppets publish.
 */
export function tinyPeer(gossip: Gossip, options: Partial<PeerOptions> = {}): Peer {
  const seed = options.seed ?? 1;
  const task = options.task ?? TINY_SPEC;
  return new Peer({
    task,
    trainer: createTaskTrainer(task, { seed }),
    data: tinyData(seed),
    strategy: createStrategy('mean'),
    gossip,
    minFreshUpdates: 1,
    // Fixed, not adaptive: an adaptive deadline learns from the test's own (fast) delays and
    // can shrink to a few ms, closing a round before a scripted reply arrives.
    deadline: { initialMs: NEVER_MS, minMs: NEVER_MS, maxMs: NEVER_MS },
    seed,
    neighbours: 'all',
    ...options,
  });
}

/**
 * Local training that does nothing until the peer's abort signal fires (a peer "still
 * training" until it is stopped). Without a signal it never returns. `started` resolves
 * when the peer has called it: a round yields to a timer first, which a busy machine can
 * delay past any number of event-loop turns.
 */
export function heldTraining(): LocalTraining & { readonly aborted: boolean; readonly started: Promise<void> } {
  let aborted = false;
  let markStarted = () => {};
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  return {
    get aborted() {
      return aborted;
    },
    started,
    async trainAsync(data: Dataset, _amount, { signal }): Promise<TrainResult> {
      markStarted();
      await new Promise<void>((resolve) => {
        const stop = () => {
          aborted = true;
          resolve();
        };
        // A signal that fired before the call never fires again.
        if (signal?.aborted === true) stop();
        else signal?.addEventListener('abort', stop, { once: true });
      });
      return { steps: 0, samples: data.y.length, loss: 0, elapsedMs: 0 };
    },
  };
}

/** Everything a Peer reported, in order. */
export interface PeerLog {
  readonly rounds: RoundSummary[];
  readonly accepted: Array<{ from: string; seq: number }>;
  readonly rejected: RejectedUpdate[];
  readonly errors: Error[];
}

export function record(peer: Peer): PeerLog {
  const log: PeerLog = { rounds: [], accepted: [], rejected: [], errors: [] };
  peer.addEventListener('round:end', (e) => log.rounds.push(e.detail));
  peer.addEventListener('update:accepted', (e) => log.accepted.push({ from: e.detail.from, seq: e.detail.seq }));
  peer.addEventListener('update:rejected', (e) => log.rejected.push(e.detail));
  peer.addEventListener('error', (e) => log.errors.push(e.detail));
  return log;
}

type Detail<K extends keyof PeerEvents> = PeerEvents[K] extends CustomEvent<infer D> ? D : never;

/** Resolves with the detail of the next `type` event of `peer`. */
export function nextEvent<K extends keyof PeerEvents>(peer: Peer, type: K): Promise<Detail<K>> {
  return new Promise((resolve) => {
    peer.addEventListener(type, (e: Event) => resolve((e as CustomEvent<Detail<K>>).detail), { once: true });
  });
}

/** Lets every queued microtask and already-due callback run (no wall-clock wait). */
export async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** The task's exchanged layout filled with seeded values around `centre`. */
export function modelFor(schema: TaskSchema, centre: number, seed = 1): Weights {
  const rng = createRng(seed).fork('puppet-model');
  return schema.layers.map((l) => ({
    name: l.name,
    shape: [...l.shape],
    values: Float32Array.from({ length: l.size }, () => centre + 0.1 * rng.normal()),
  }));
}

/**
 * A scripted neighbour on the bus: encodes updates for the task with its own encoder,
 * publishes exactly what the test says, records what it receives on the topic and
 * answers snapshot requests with `snapshots` (default: its encoder's current snapshot).
 */
export class Puppet {
  readonly gossip: Gossip;
  readonly encoder: PublicCopyEncoder;
  readonly received: GossipMessage[] = [];
  snapshotRequests = 0;
  snapshots: Responder;
  #onReceive: ((m: GossipMessage) => void) | undefined;

  constructor(bus: Bus, id: string, schema: TaskSchema, options: { keyframeInterval?: number; codec?: string } = {}) {
    this.gossip = bus.join(id);
    this.encoder = new PublicCopyEncoder({
      schema,
      codec: parseCodec(options.codec ?? 'fp32'),
      keyframeInterval: options.keyframeInterval ?? 100,
    });
    this.snapshots = async () => this.encoder.snapshot() ?? new Uint8Array(0);
    this.gossip.subscribe(TOPIC, (m) => {
      this.received.push(m);
      this.#onReceive?.(m);
    });
    void this.gossip.handle(SNAPSHOT_PROTOCOL, (from, request) => {
      this.snapshotRequests++;
      return this.snapshots(from, request);
    });
  }

  get id(): string {
    return this.gossip.id;
  }

  /** Encodes the next update (keyframe or delta, as the encoder decides) without sending it. */
  encode(weights: Weights, samples = 10): EncodedUpdate {
    return this.encoder.encodeUpdate(weights, samples);
  }

  /** Encodes and publishes the next update. */
  async send(weights: Weights, samples = 10): Promise<EncodedUpdate> {
    const update = this.encode(weights, samples);
    await this.sendBytes(update.bytes);
    return update;
  }

  async sendBytes(bytes: Uint8Array): Promise<number> {
    return (await this.gossip.publish(TOPIC, bytes)).recipients;
  }

  /** Calls `fn` on every message the puppet receives from now on (replacing any earlier one). */
  onReceive(fn: (m: GossipMessage) => void): void {
    this.#onReceive = fn;
  }
}

/**
 * A Gossip that forwards to `inner` but keeps the Peer's subscription handler and
 * validator, so a test can drive them in an order the Bus never produces (e.g. two
 * copies validated before either is applied, as gossipsub's async validation allows),
 * and records `penalize` calls.
 */
export interface Tapped {
  readonly gossip: Gossip;
  readonly penalties: Array<{ peer: string; reason: string }>;
  handler(): MessageHandler;
  validator(): Validator;
}

export function tap(inner: Gossip): Tapped {
  let handler: MessageHandler | undefined;
  let validator: Validator | undefined;
  const penalties: Array<{ peer: string; reason: string }> = [];
  const gossip = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'subscribe') {
        return (topic: string, h: MessageHandler, v?: Validator) => {
          handler = h;
          validator = v;
          return target.subscribe(topic, h, v);
        };
      }
      if (prop === 'penalize') {
        return (peer: string, reason: string) => {
          penalties.push({ peer, reason });
          target.penalize(peer, reason);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    gossip,
    penalties,
    handler: () => {
      if (handler === undefined) throw new Error('peer has not subscribed');
      return handler;
    },
    validator: () => {
      if (validator === undefined) throw new Error('peer subscribed without a validator');
      return validator;
    },
  };
}
