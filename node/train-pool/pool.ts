/**
 * TrainingPool: N worker threads that train peers' models, so the cores of a machine all
 * work while one process simulates many peers (tfjs-wasm runs on one thread in Node).
 *
 * Every worker knows every registered peer (model, options, shared training set) and holds
 * no peer's state: a train request carries the peer's whole state (PeerState: weights,
 * momentum, batch-order generator) and the reply the trained one. Requests wait in one
 * queue and go to whichever worker is free, so a worker never idles while a peer waits to
 * train (with a fixed home per peer, a worker idled while peers queued on the other one:
 * docs/PERFORMANCE.md, "Both cores").
 * Every request is owned by a promise that settles: with the reply, with the worker's error
 * message, when the worker dies, when the pool closes, or (after an abort) when the worker
 * does not answer within ABORT_REPLY_TIMEOUT_MS.
 */
import { Worker } from 'node:worker_threads';
import type { BackendChoice } from '../../src/train/backend.ts';
import type { TrainAmount, TrainResult } from '../../src/train/trainer.ts';
import {
  type PeerState,
  type PoolReply,
  type PoolRequest,
  parseReply,
  type Registration,
  transferableState,
} from './messages.ts';

export type { PeerState, Registration } from './messages.ts';

/** A worker that has not initialised its backend by then is reported as failed. */
export const WORKER_READY_TIMEOUT_MS = 60_000;
/** Registration builds one model; longer than this means the worker is stuck. */
export const REGISTER_TIMEOUT_MS = 30_000;
/** After an abort the worker stops at its next yield (a few steps); it must answer by then. */
export const ABORT_REPLY_TIMEOUT_MS = 10_000;
/** Pool sizes accepted (scenario key and CLI flag). */
export const MAX_WORKERS = 64;

const WORKER_URL = new URL('./worker.ts', import.meta.url);

/** A pooled request did not complete: worker error, dead worker, closed pool or abort timeout. */
export class TrainingPoolError extends Error {
  override readonly name = 'TrainingPoolError';
}

export interface PoolOptions {
  readonly workers: number;
  /** Backend the workers initialise; use the main thread's, so numbers agree. */
  readonly backend: BackendChoice;
}

export interface Trained {
  readonly state: PeerState;
  readonly result: TrainResult;
}

/** A train request: waiting in the pool's queue, then on a worker. */
interface Job {
  readonly id: number;
  readonly peer: string;
  readonly state: PeerState;
  readonly transfer: ArrayBuffer[];
  readonly amount: TrainAmount;
  readonly resolve: (t: Trained) => void;
  readonly reject: (err: Error) => void;
  /** Set once the job is handed to a worker. */
  worker: PoolWorker | undefined;
}

interface Pending {
  readonly resolve: (reply: PoolReply) => void;
  readonly reject: (err: Error) => void;
}

/** One worker thread and the requests it owes replies to. */
class PoolWorker {
  readonly index: number;
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  /** Trains a job now (the pool gives it one job at a time). */
  busy = false;
  /** Set once the worker can no longer answer; every later request fails with it. */
  dead: TrainingPoolError | undefined;
  #lastError: string | undefined;
  readonly exited: Promise<void>;
  #terminating: Promise<void> | undefined;

  constructor(index: number, backend: BackendChoice) {
    this.index = index;
    this.worker = new Worker(WORKER_URL, { workerData: { backend } });
    this.worker.on('message', (raw: unknown) => this.#onMessage(raw));
    this.worker.on('error', (err) => {
      this.#lastError = err.message;
    });
    this.worker.on('messageerror', (err) => {
      this.#lastError = `message could not be deserialised: ${err.message}`;
    });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        const why = this.#lastError === undefined ? '' : `: ${this.#lastError}`;
        this.#kill(new TrainingPoolError(`training worker ${index} exited with code ${code}${why}`));
        resolve();
      });
    });
  }

  /** Resolves with the reply to `request` (or 'failed' as a rejection). */
  request(request: PoolRequest, transfer: ArrayBuffer[], timeoutMs?: number): Promise<PoolReply> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<PoolReply>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(
              () =>
                settle.reject(
                  new TrainingPoolError(
                    `training worker ${this.index}: no reply to ${request.kind} in ${timeoutMs} ms`,
                  ),
                ),
              timeoutMs,
            );
      const settle: Pending = {
        resolve: (r) => {
          clearTimeout(timer);
          this.pending.delete(request.id);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          this.pending.delete(request.id);
          reject(e);
        },
      };
      this.pending.set(request.id, settle);
      try {
        this.worker.postMessage(request, transfer);
      } catch (err) {
        settle.reject(
          new TrainingPoolError(
            `training worker ${this.index}: cannot send ${request.kind}: ${(err as Error).message}`,
          ),
        );
      }
    });
  }

  /** Arms a timeout on an outstanding request (after an abort). */
  expire(id: number, timeoutMs: number, what: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    const timer = setTimeout(() => p.reject(new TrainingPoolError(what)), timeoutMs);
    this.pending.set(id, {
      resolve: (r) => {
        clearTimeout(timer);
        p.resolve(r);
      },
      reject: (e) => {
        clearTimeout(timer);
        p.reject(e);
      },
    });
  }

  post(message: PoolRequest): void {
    if (!this.dead) this.worker.postMessage(message);
  }

  #onMessage(raw: unknown): void {
    let reply: PoolReply;
    try {
      reply = parseReply(raw);
    } catch (err) {
      this.#kill(new TrainingPoolError(`training worker ${this.index}: ${(err as Error).message}`));
      this.#stop(); // awaited by terminate(), which the pool's close() calls
      return;
    }
    switch (reply.kind) {
      case 'ready':
        this.pending.get(READY_ID)?.resolve(reply);
        return;
      case 'registered':
      case 'trained':
        this.pending.get(reply.id)?.resolve(reply);
        return;
      case 'failed': {
        const err = new TrainingPoolError(`training worker ${this.index}: ${reply.message}`);
        if (reply.id === null) {
          this.#lastError = reply.message;
          this.pending.get(READY_ID)?.reject(err);
        } else this.pending.get(reply.id)?.reject(err);
        return;
      }
      default: {
        const never: never = reply;
        this.#kill(new TrainingPoolError(`training worker ${this.index}: unhandled reply ${JSON.stringify(never)}`));
      }
    }
  }

  #kill(err: TrainingPoolError): void {
    this.dead ??= err;
    for (const p of [...this.pending.values()]) p.reject(this.dead);
  }

  /** Waits for the worker's 'ready' (its backend is up). */
  ready(): Promise<PoolReply> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          done.reject(
            new TrainingPoolError(`training worker ${this.index}: not ready in ${WORKER_READY_TIMEOUT_MS} ms`),
          ),
        WORKER_READY_TIMEOUT_MS,
      );
      const done: Pending = {
        resolve: (r) => {
          clearTimeout(timer);
          this.pending.delete(READY_ID);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          this.pending.delete(READY_ID);
          reject(e);
        },
      };
      this.pending.set(READY_ID, done);
    });
  }

  /** Terminates the thread once; the promise is kept so that `terminate` awaits it. */
  #stop(): Promise<void> {
    this.#terminating ??= this.worker.terminate().then(
      () => undefined,
      (err: unknown) => {
        this.#lastError ??= `terminate failed: ${(err as Error).message}`;
      },
    );
    return this.#terminating;
  }

  async terminate(reason: TrainingPoolError): Promise<void> {
    this.#kill(reason);
    await this.#stop();
    await this.exited;
  }
}

/** Pending-map key of the 'ready' handshake (request ids start at 1). */
const READY_ID = 0;

export class TrainingPool {
  readonly size: number;
  readonly #workers: readonly PoolWorker[];
  readonly #registered = new Set<string>();
  /** Peers whose registration is in flight (refused a second time meanwhile). */
  readonly #registering = new Set<string>();
  /** Train requests no worker has taken yet, oldest first. */
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closed = false;

  private constructor(workers: readonly PoolWorker[]) {
    this.#workers = workers;
    this.size = workers.length;
  }

  /** Starts `workers` threads and waits until each has its backend up. */
  static async start(options: PoolOptions): Promise<TrainingPool> {
    if (!(Number.isInteger(options.workers) && options.workers >= 1 && options.workers <= MAX_WORKERS)) {
      throw new RangeError(`training pool: workers must be an integer in [1, ${MAX_WORKERS}], got ${options.workers}`);
    }
    const workers = Array.from({ length: options.workers }, (_, i) => new PoolWorker(i, options.backend));
    const pool = new TrainingPool(workers);
    try {
      await Promise.all(workers.map((w) => w.ready()));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  /** Makes a peer known to every worker (any of them may train it). */
  async register(r: Registration): Promise<void> {
    if (this.#closed) throw new TrainingPoolError('training pool is closed');
    if (this.#registered.has(r.peer) || this.#registering.has(r.peer))
      throw new TrainingPoolError(`peer ${r.peer} is already registered`);
    this.#registering.add(r.peer);
    try {
      // The data is in SharedArrayBuffers: every worker reads the same memory.
      const results = await Promise.allSettled(
        this.#workers.map((w) => w.request({ kind: 'register', id: this.#nextId++, ...r }, [], REGISTER_TIMEOUT_MS)),
      );
      const failed = results.find((x): x is PromiseRejectedResult => x.status === 'rejected');
      // Only once every worker knows the peer: a failed registration leaves it unregistered.
      if (failed !== undefined) throw failed.reason;
      this.#registered.add(r.peer);
    } finally {
      this.#registering.delete(r.peer);
    }
  }

  /**
   * Trains a registered peer from `state` on the first free worker. On abort a waiting
   * request settles at once with `state` untrained; a running one stops at the worker's next
   * yield and returns the steps done; a worker that then stays silent rejects the promise.
   */
  train(peer: string, state: PeerState, amount: TrainAmount, signal?: AbortSignal): Promise<Trained> {
    if (this.#closed) return Promise.reject(new TrainingPoolError('training pool is closed'));
    if (!this.#registered.has(peer))
      return Promise.reject(new TrainingPoolError(`peer ${peer} is not registered with the training pool`));
    const { state: sent, transfer } = transferableState(state);
    return new Promise<Trained>((resolve, reject) => {
      const onAbort = (): void => {
        const waiting = this.#queue.indexOf(job);
        if (waiting >= 0) {
          this.#queue.splice(waiting, 1);
          job.resolve({ state: job.state, result: { steps: 0, samples: 0, loss: Number.NaN, elapsedMs: 0 } });
          return;
        }
        const w = job.worker;
        if (w === undefined) return;
        w.post({ kind: 'abort', id: job.id });
        w.expire(
          job.id,
          ABORT_REPLY_TIMEOUT_MS,
          `training worker ${w.index}: no reply ${ABORT_REPLY_TIMEOUT_MS} ms after aborting peer ${peer}'s training`,
        );
      };
      const settled = (): void => signal?.removeEventListener('abort', onAbort);
      const job: Job = {
        id: this.#nextId++,
        peer,
        state: sent,
        transfer,
        amount,
        resolve: (t) => {
          settled();
          resolve(t);
        },
        reject: (e) => {
          settled();
          reject(e);
        },
        worker: undefined,
      };
      this.#queue.push(job);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      this.#dispatch();
    });
  }

  /** Hands waiting jobs to free workers; with no live worker left, fails them. */
  #dispatch(): void {
    for (;;) {
      const job = this.#queue[0];
      if (job === undefined) return;
      const live = this.#workers.filter((w) => w.dead === undefined);
      if (live.length === 0) {
        this.#queue.shift();
        job.reject(this.#workers[0]?.dead ?? new TrainingPoolError('training pool has no worker'));
        continue;
      }
      const free = live.find((w) => !w.busy);
      if (free === undefined) return;
      this.#queue.shift();
      this.#run(free, job);
    }
  }

  #run(worker: PoolWorker, job: Job): void {
    worker.busy = true;
    job.worker = worker;
    const request: PoolRequest = { kind: 'train', id: job.id, peer: job.peer, state: job.state, amount: job.amount };
    worker
      .request(request, job.transfer)
      .then((r) => {
        if (r.kind !== 'trained')
          throw new TrainingPoolError(`training worker ${worker.index}: ${r.kind} in reply to train`);
        job.resolve({ state: r.state, result: r.result });
      })
      .catch((err: unknown) =>
        job.reject(
          err instanceof Error ? err : new TrainingPoolError(`training worker ${worker.index}: ${String(err)}`),
        ),
      )
      .finally(() => {
        worker.busy = false;
        this.#dispatch();
      });
  }

  /** Terminates every worker; outstanding requests reject, waiting ones too. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const reason = new TrainingPoolError('training pool closed');
    for (const job of this.#queue.splice(0)) job.reject(reason);
    await Promise.all(this.#workers.map((w) => w.terminate(reason)));
  }
}
