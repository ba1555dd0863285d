/**
 * ParallelTraining: one model trained on several cores. tfjs-backend-wasm runs on one thread
 * in Node, so a second core can only be used by another thread with its own backend: W worker
 * threads each hold a replica of the model and, every step, the gradients of 1/W of the
 * batch; the gradients are summed across replicas through shared memory (./exchange.ts) and
 * every replica applies the same update. That is synchronous data-parallel SGD: the same
 * global batch, the same batch order (same seed) and the same update rule as the Trainer on
 * one thread, so accuracy is the same up to float rounding (test/data-parallel). BatchNorm
 * (RepVGG) is the exception: each replica normalises its slice by the slice's statistics.
 * That is `syncEvery` 1 (the CNN's default). With syncEvery k >= 2 (local SGD, the MLP's
 * default: defaultSyncEvery) each replica steps its own copy on its slices and the
 * replicas average weights and momentum every k steps: one barrier per k steps instead of
 * one per step, which is what costs most when the other core is busy, for updates that
 * drift from one thread's between synchronisations (accuracy measured in
 * docs/PERFORMANCE.md). An abort then stops the group at the next synchronisation.
 *
 * The main thread keeps its own Trainer (the peer's, or `meshfl train`'s): it evaluates,
 * merges and saves it. Each training call sends that model's trained layers to every replica
 * (a merge may have changed them) and puts the result back into it. Optimizer momentum stays
 * in the replicas between calls, as in the training pool. BatchNorm moving statistics, which
 * each replica estimates from its own slices, come back averaged over the replicas.
 */
import { Worker } from 'node:worker_threads';
import type { Dataset } from '../../src/data/dataset.ts';
import type { Layer, Weights } from '../../src/model/weights.ts';
import type { LocalTraining } from '../../src/peer/peer.ts';
import type { BackendChoice } from '../../src/train/backend.ts';
import type { TrainAmount, Trainer, TrainerOptions, TrainProgress, TrainResult } from '../../src/train/trainer.ts';
import { sharedDataset } from '../train-pool/shared-dataset.ts';
import { ExchangeControl, exchangeBuffers, OTHER_REPLICA_FAILED } from './exchange.ts';
import { parseReplicaReply, type ReplicaInit, type ReplicaReply, type ReplicaRequest } from './messages.ts';
import { checkSyncEvery, defaultSyncEvery, MAX_THREADS, replicasFor } from './threads.ts';

/** A replica that has not started its backend and model by then is reported as failed. */
export const REPLICA_READY_TIMEOUT_MS = 60_000;

const WORKER_URL = new URL('./worker.ts', import.meta.url);

/** The group cannot train: a replica failed or died, or the group was closed. */
export class ParallelTrainingError extends Error {
  override readonly name = 'ParallelTrainingError';
}

export interface ParallelTrainingOptions {
  /** Replicas (worker threads), >= 2; see replicasFor. */
  readonly replicas: number;
  /** The backend each replica starts; the main thread's, so numbers agree. */
  readonly backend: BackendChoice;
  /** The main thread's Trainer: replicas start from its model and train it. */
  readonly trainer: Trainer;
  /** The options `trainer` was built with (replicas build theirs with the same). */
  readonly options: TrainerOptions;
  /**
   * Steps between synchronisations (GradientExchange.syncEvery): 1 sums the gradients of
   * every batch's slices (the updates of one thread); k >= 2 is local SGD. Default
   * defaultSyncEvery(the model's spec).
   */
  readonly syncEvery?: number;
}

interface Pending {
  readonly resolve: (reply: Extract<ReplicaReply, { kind: 'trained' }>) => void;
  readonly reject: (err: Error) => void;
  readonly onProgress: ((p: TrainProgress) => void) | undefined;
}

class Replica {
  readonly rank: number;
  readonly worker: Worker;
  readonly exited: Promise<void>;
  readonly ready: Promise<string>;
  #pending: Pending | undefined;
  #pendingId = -1;
  #dead: ParallelTrainingError | undefined;
  #lastError: string | undefined;
  readonly #onDeath: (err: ParallelTrainingError) => void;

  constructor(rank: number, init: ReplicaInit, onDeath: (err: ParallelTrainingError) => void) {
    this.rank = rank;
    this.#onDeath = onDeath;
    this.worker = new Worker(WORKER_URL, { workerData: init });
    let readyResolve: (backend: string) => void = () => undefined;
    let readyReject: (err: Error) => void = () => undefined;
    this.ready = new Promise<string>((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    // A rejection nobody awaits yet (start() awaits all) must not crash the process.
    this.ready.catch(() => undefined);
    const timer = setTimeout(
      () => readyReject(new ParallelTrainingError(`replica ${rank}: not ready in ${REPLICA_READY_TIMEOUT_MS} ms`)),
      REPLICA_READY_TIMEOUT_MS,
    );
    this.ready.finally(() => clearTimeout(timer)).catch(() => undefined);
    this.worker.on('message', (raw: unknown) => {
      let m: ReplicaReply;
      try {
        m = parseReplicaReply(raw);
      } catch (err) {
        this.#die(new ParallelTrainingError(`replica ${rank}: ${(err as Error).message}`));
        return;
      }
      switch (m.kind) {
        case 'ready':
          readyResolve(m.backend);
          return;
        case 'progress':
          if (m.id === this.#pendingId) this.#pending?.onProgress?.(m.progress);
          return;
        case 'trained':
          if (m.id === this.#pendingId) this.#settle()?.resolve(m);
          return;
        case 'failed': {
          const err = new ParallelTrainingError(`data-parallel ${m.message}`);
          if (m.id === null) {
            this.#lastError = m.message;
            readyReject(err);
          } else if (m.id === this.#pendingId) this.#settle()?.reject(err);
          return;
        }
        default: {
          const never: never = m;
          this.#die(new ParallelTrainingError(`replica ${rank}: unhandled reply ${JSON.stringify(never)}`));
        }
      }
    });
    this.worker.on('error', (err) => {
      this.#lastError = err.message;
    });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        const why = this.#lastError === undefined ? '' : `: ${this.#lastError}`;
        const err = new ParallelTrainingError(`data-parallel replica ${rank} exited with code ${code}${why}`);
        readyReject(err);
        this.#die(err);
        resolve();
      });
    });
  }

  #settle(): Pending | undefined {
    const p = this.#pending;
    this.#pending = undefined;
    this.#pendingId = -1;
    return p;
  }

  #die(err: ParallelTrainingError): void {
    this.#dead ??= err;
    this.#settle()?.reject(this.#dead);
    this.#onDeath(this.#dead);
  }

  train(
    request: ReplicaRequest,
    onProgress: ((p: TrainProgress) => void) | undefined,
  ): Promise<Extract<ReplicaReply, { kind: 'trained' }>> {
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject, onProgress };
      this.#pendingId = request.id;
      try {
        this.worker.postMessage(request);
      } catch (err) {
        this.#settle()?.reject(
          new ParallelTrainingError(`replica ${this.rank}: cannot send: ${(err as Error).message}`),
        );
      }
    });
  }

  async terminate(reason: ParallelTrainingError): Promise<void> {
    this.#dead ??= reason;
    this.#settle()?.reject(this.#dead);
    await this.worker.terminate().catch(() => undefined);
    await this.exited;
  }
}

export class ParallelTraining implements LocalTraining {
  readonly replicas: number;
  /** Steps between the replicas' synchronisations (see ParallelTrainingOptions.syncEvery). */
  readonly syncEvery: number;
  readonly #trainer: Trainer;
  readonly #workers: readonly Replica[];
  readonly #control: ExchangeControl;
  /** Layers training changes, sent to the replicas and put back. */
  readonly #trained: ReadonlySet<string>;
  /** Of those, the ones no gradient updates (BatchNorm statistics): averaged over replicas. */
  readonly #averaged: ReadonlySet<string>;
  #lastData: Dataset | undefined;
  #nextId = 1;
  #queue: Promise<unknown> = Promise.resolve();
  #failed: ParallelTrainingError | undefined;

  private constructor(o: ParallelTrainingOptions) {
    const { trainer } = o;
    const model = trainer.model;
    this.replicas = o.replicas;
    this.#trainer = trainer;
    this.#trained = trainer.trainedLayers();
    this.#averaged = new Set(model.variables.filter((v) => !v.trainable).map((v) => v.name));
    this.syncEvery = checkSyncEvery(o.syncEvery ?? defaultSyncEvery(model.spec));
    const buffers = exchangeBuffers(o.replicas, trainer.exchangeSize(this.syncEvery), this.syncEvery);
    this.#control = new ExchangeControl(buffers);
    const weights = trainer.getWeights();
    this.#workers = Array.from(
      { length: o.replicas },
      (_, rank) =>
        new Replica(
          rank,
          {
            backend: o.backend,
            rank,
            buffers,
            spec: model.spec,
            inputShape: model.inputShape,
            numClasses: model.numClasses,
            options: o.options,
            weights,
          },
          (err) => this.#fail(err),
        ),
    );
  }

  /** Starts the replicas and waits until each has its backend and model. */
  static async start(o: ParallelTrainingOptions): Promise<ParallelTraining> {
    if (!(Number.isInteger(o.replicas) && o.replicas >= 2 && o.replicas <= MAX_THREADS))
      throw new RangeError(
        `data-parallel training: replicas must be an integer in [2, ${MAX_THREADS}], got ${o.replicas}`,
      );
    const group = new ParallelTraining(o);
    try {
      await Promise.all(group.#workers.map((w) => w.ready));
    } catch (err) {
      await group.close();
      throw err;
    }
    return group;
  }

  #fail(err: ParallelTrainingError): void {
    this.#failed ??= err;
    // Replicas waiting at a barrier for the dead one wake up and fail too.
    this.#control.fail();
  }

  /**
   * Trains the main thread's model on `data` over the replicas. `signal` stops every replica
   * after the same step (the steps done are kept, as with Trainer.trainAsync). `yieldEvery`
   * is ignored: the main thread is free while the replicas train.
   */
  trainAsync(
    data: Dataset,
    amount: TrainAmount,
    options: { signal?: AbortSignal; onProgress?: (p: TrainProgress) => void; yieldEvery?: number } = {},
  ): Promise<TrainResult> {
    // One call at a time: the replicas step together.
    const run = this.#queue.then(() => this.#train(data, amount, options));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #train(
    data: Dataset,
    amount: TrainAmount,
    options: { signal?: AbortSignal; onProgress?: (p: TrainProgress) => void },
  ): Promise<TrainResult> {
    if (this.#failed) throw this.#failed;
    const layers = this.#trainer.getWeights().filter((l) => this.#trained.has(l.name));
    const shared = data === this.#lastData ? undefined : sharedDataset(data);
    const id = this.#nextId++;
    const { signal } = options;
    this.#control.clearStop();
    const onAbort = (): void => this.#control.requestStop();
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    let settled: PromiseSettledResult<Extract<ReplicaReply, { kind: 'trained' }>>[];
    try {
      // Every replica answers (a failing one releases the others), so all are awaited.
      settled = await Promise.allSettled(
        this.#workers.map((w) =>
          w.train(
            { kind: 'train', id, layers, amount, ...(shared === undefined ? {} : { data: shared }) },
            w.rank === 0 ? options.onProgress : undefined,
          ),
        ),
      );
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    const errors = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    if (errors.length > 0) {
      // The cause, not the replicas that stopped because of it.
      const cause = errors.find((e) => !String((e as Error)?.message).includes(OTHER_REPLICA_FAILED)) ?? errors[0];
      const e = cause instanceof ParallelTrainingError ? cause : new ParallelTrainingError(String(cause));
      this.#fail(e);
      throw e;
    }
    const replies = settled.map((s) => (s as PromiseFulfilledResult<Extract<ReplicaReply, { kind: 'trained' }>>).value);
    this.#lastData = data;
    this.#trainer.setLayers(this.#combine(replies.map((r) => r.layers)));
    return replies[0].result;
  }

  /** Replica 0's trained layers (checked equal on every replica) and averaged statistics. */
  #combine(all: readonly Weights[]): Weights {
    const [first, ...others] = all as [Weights, ...Weights[]];
    return first.map((l, i): Layer => {
      const mates = others.map((w) => w[i]);
      if (this.#averaged.has(l.name)) {
        const values = l.values.slice();
        for (const m of mates) for (let j = 0; j < values.length; j++) values[j] = values[j] + m.values[j];
        for (let j = 0; j < values.length; j++) values[j] = values[j] / all.length;
        return { ...l, values };
      }
      for (const [r, m] of mates.entries()) {
        if (m.name !== l.name || !sameValues(m.values, l.values)) {
          // A kernel that is not deterministic, or a bug: the replicas no longer train one model.
          const e = new ParallelTrainingError(
            `data-parallel training: replica ${r + 1} diverged from replica 0 in ${l.name}`,
          );
          this.#fail(e);
          throw e;
        }
      }
      return l;
    });
  }

  /** Terminates every replica; a call in progress rejects. Idempotent. */
  async close(): Promise<void> {
    const reason = new ParallelTrainingError('data-parallel training closed');
    this.#fail(reason);
    await Promise.all(this.#workers.map((w) => w.terminate(reason)));
  }
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  // Bitwise: NaN payloads and -0 included.
  const x = new Int32Array(a.buffer, a.byteOffset, a.length);
  const y = new Int32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Local training as the CLI and the daemon use it: the Trainer itself, or replicas. */
export interface TrainingThreads {
  /** Replicas training (1: the Trainer on the calling thread, no worker). */
  readonly replicas: number;
  /** Steps between the replicas' synchronisations (1 with one replica). */
  readonly syncEvery: number;
  readonly training: {
    trainAsync(
      data: Dataset,
      amount: TrainAmount,
      options: { signal?: AbortSignal; onProgress?: (p: TrainProgress) => void; yieldEvery?: number },
    ): Promise<TrainResult>;
  };
  /** Stops the workers, if any. Idempotent. */
  close(): Promise<void>;
}

/**
 * Trains `trainer` on `threads` threads (replicasFor: 1 in head mode, or when one thread is
 * asked for, and then no worker is started).
 */
export async function trainingThreads(
  trainer: Trainer,
  options: TrainerOptions,
  o: { readonly threads: number; readonly backend: BackendChoice; readonly syncEvery?: number | undefined },
): Promise<TrainingThreads> {
  const replicas = replicasFor(o.threads, { batchSize: trainer.batchSize, trainable: trainer.trainable });
  if (replicas === 1) return { replicas, syncEvery: 1, training: trainer, close: async () => undefined };
  const group = await ParallelTraining.start({
    replicas,
    backend: o.backend,
    trainer,
    options,
    ...(o.syncEvery === undefined ? {} : { syncEvery: o.syncEvery }),
  });
  return { replicas, syncEvery: group.syncEvery, training: group, close: () => group.close() };
}
