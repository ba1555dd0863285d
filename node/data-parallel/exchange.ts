/**
 * The gradient all-reduce of data-parallel training across worker threads (GradientExchange,
 * src/train/trainer.ts), through SharedArrayBuffers and Atomics: no message per step.
 *
 * Each step every replica copies its loss and gradients into its own slot of a shared buffer,
 * waits at a barrier for the others, then sums the slots (weighted by each replica's share of
 * the batch) in the same order as every other replica, so all get the same bits. Slots are
 * double-buffered by step parity: a replica that leaves the barrier first and writes the next
 * step's slot cannot overwrite values a slower replica is still reading (it cannot pass the
 * next barrier before that replica arrives there).
 *
 * The barrier also carries two group decisions: stop (the main thread asks, the last replica
 * to arrive reads the request, every replica sees the same answer after the same step) and
 * failure (a replica that throws, or the main thread when a worker dies, sets a flag that
 * wakes and fails the waiting replicas instead of leaving them blocked).
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { GradientExchange } from '../../src/train/trainer.ts';
import { checkSyncEvery } from './threads.ts';

/** A replica that waits longer than this at the barrier fails the group (a stuck or dead peer thread). */
export const EXCHANGE_TIMEOUT_MS = 120_000;
/** Waiting replicas wake at least this often to look at the failure flag and the deadline. */
const WAIT_SLICE_MS = 500;

// Int32 fields of the sync buffer.
const ARRIVED = 0;
const GENERATION = 1;
const STOP_REQUEST = 2;
const STOP_DECIDED = 3;
const FAILED = 4;
const SYNC_FIELDS = 5;

const FLOAT_BYTES = 4;

/** The shared memory of one data-parallel group: made by the main thread, posted to every replica. */
export interface ExchangeBuffers {
  readonly ranks: number;
  /** Floats each replica contributes per step (Trainer.gradientSize). */
  readonly size: number;
  /** 1: gradients every step; k >= 2: local SGD, weights and momentum every k rounds (GradientExchange.syncEvery). */
  readonly syncEvery: number;
  /** 2 (step parity) x ranks x size float32 values. */
  readonly values: SharedArrayBuffer;
  readonly sync: SharedArrayBuffer;
}

export function exchangeBuffers(ranks: number, size: number, syncEvery = 1): ExchangeBuffers {
  if (!(Number.isInteger(ranks) && ranks >= 1))
    throw new RangeError(`exchange: ranks must be an integer >= 1, got ${ranks}`);
  if (!(Number.isInteger(size) && size >= 1))
    throw new RangeError(`exchange: size must be an integer >= 1, got ${size}`);
  checkSyncEvery(syncEvery);
  return {
    ranks,
    size,
    syncEvery,
    values: new SharedArrayBuffer(2 * ranks * size * FLOAT_BYTES),
    sync: new SharedArrayBuffer(SYNC_FIELDS * Int32Array.BYTES_PER_ELEMENT),
  };
}

/** What a replica reports when it stopped because another one failed (not the cause). */
export const OTHER_REPLICA_FAILED = 'data-parallel training: another replica failed';

/** The group failed: a replica threw, a worker died, or a barrier timed out. */
export class ExchangeError extends Error {
  override readonly name = 'ExchangeError';
}

/** The main thread's handle on a group's flags (it never joins the barrier). */
export class ExchangeControl {
  readonly #sync: Int32Array;

  constructor(buffers: ExchangeBuffers) {
    this.#sync = new Int32Array(buffers.sync);
  }

  /** Asks the replicas to stop after the step in progress (all after the same one). */
  requestStop(): void {
    Atomics.store(this.#sync, STOP_REQUEST, 1);
  }

  /** Before a training call: no stop requested. */
  clearStop(): void {
    Atomics.store(this.#sync, STOP_REQUEST, 0);
  }

  /** Fails the group: waiting replicas wake and throw. */
  fail(): void {
    Atomics.store(this.#sync, FAILED, 1);
    Atomics.notify(this.#sync, GENERATION);
  }
}

export class SharedExchange implements GradientExchange {
  readonly rank: number;
  readonly ranks: number;
  readonly size: number;
  readonly syncEvery: number;
  readonly #values: Float32Array;
  readonly #sync: Int32Array;
  /** The reduced values of a step, on backends other than wasm (fresh tensors are made from it). */
  #sum: Float32Array | undefined;
  #step = 0;
  #stop = false;

  constructor(buffers: ExchangeBuffers, rank: number) {
    if (!(Number.isInteger(rank) && rank >= 0 && rank < buffers.ranks))
      throw new RangeError(`exchange: rank must be an integer in [0, ${buffers.ranks}), got ${rank}`);
    if (buffers.values.byteLength !== 2 * buffers.ranks * buffers.size * FLOAT_BYTES)
      throw new RangeError('exchange: the values buffer does not fit ranks x size');
    this.rank = rank;
    this.ranks = buffers.ranks;
    this.size = buffers.size;
    this.syncEvery = checkSyncEvery(buffers.syncEvery);
    this.#values = new Float32Array(buffers.values);
    this.#sync = new Int32Array(buffers.sync);
  }

  /** True when the group decided, at the last barrier, to stop after this step. */
  get stopDecided(): boolean {
    return this.#stop;
  }

  /**
   * Before a training call: forgets the last call's decision. With local SGD the next
   * barrier is k steps away, and until it the replicas must not read an old stop.
   */
  beginCall(): void {
    this.#stop = false;
  }

  /** Fails the group (this replica cannot go on): the others stop waiting for it. */
  fail(): void {
    Atomics.store(this.#sync, FAILED, 1);
    Atomics.notify(this.#sync, GENERATION);
  }

  allReduce(values: readonly tf.Tensor[], weights: readonly number[]): tf.Tensor[] {
    const { size } = this;
    const { base, wasm } = this.#contribute(values, weights);
    if (wasm !== undefined && distinctData(values)) {
      // Straight into the tensors' own memory: they are this step's fresh gradients, read
      // by nothing but the optimizer after this call. Views only now: nothing allocates on
      // the heap between here and their use.
      let off = 0;
      for (const t of values) {
        this.#reduce(base, weights, off, t.size, wasm.typedArrayFromHeap(t) as Float32Array);
        off += t.size;
      }
      return [...values];
    }
    // Elsewhere through fresh tensors (the cpu backend keeps the array it is given: a copy each).
    this.#sum ??= new Float32Array(size);
    this.#reduce(base, weights, 0, size, this.#sum);
    const out: tf.Tensor[] = [];
    let off = 0;
    for (const t of values) {
      out.push(tf.tensor(this.#sum.slice(off, off + t.size), t.shape, 'float32'));
      off += t.size;
    }
    return out;
  }

  weightedSum(values: readonly tf.Tensor[], weights: readonly number[]): Float32Array {
    const { base } = this.#contribute(values, weights);
    this.#sum ??= new Float32Array(this.size);
    this.#reduce(base, weights, 0, this.size, this.#sum);
    return this.#sum;
  }

  /** Copies this replica's values into its slot of this exchange's parity and waits for the others. */
  #contribute(
    values: readonly tf.Tensor[],
    weights: readonly number[],
  ): { readonly base: number; readonly wasm: BackendWasm | undefined } {
    const { ranks, size } = this;
    if (weights.length !== ranks) throw new ExchangeError(`exchange: ${weights.length} weights for ${ranks} replicas`);
    let n = 0;
    for (const t of values) n += t.size;
    if (n !== size) throw new ExchangeError(`exchange: ${n} values where the group exchanges ${size}`);
    const parity = this.#step++ & 1;
    const base = parity * ranks * size;
    // Own contribution: straight from the wasm heap where the tensors live (no read-back copy).
    const backend = tf.backend();
    const wasm = tf.getBackend() === 'wasm' ? (backend as BackendWasm) : undefined;
    let at = base + this.rank * size;
    for (const t of values) {
      this.#values.set((wasm ? wasm.typedArrayFromHeap(t) : t.dataSync()) as Float32Array, at);
      at += t.size;
    }
    this.#barrier();
    return { base, wasm };
  }

  /**
   * dst[i] = Σ_r weights[r] * slot_r[off + i] for i < n, replicas in rank order: the same
   * bits on every replica.
   */
  #reduce(base: number, weights: readonly number[], off: number, n: number, dst: Float32Array): void {
    const { ranks, size } = this;
    const v = this.#values;
    const used: number[] = [];
    for (let r = 0; r < ranks; r++) if (weights[r] > 0) used.push(r);
    if (used.length === 2) {
      // The common case (two threads), fused in one pass.
      const [r0, r1] = used as [number, number];
      const a = base + r0 * size + off;
      const b = base + r1 * size + off;
      const w0 = weights[r0];
      const w1 = weights[r1];
      for (let i = 0; i < n; i++) dst[i] = w0 * v[a + i] + w1 * v[b + i];
      return;
    }
    dst.fill(0, 0, n);
    for (const r of used) {
      const a = base + r * size + off;
      const w = weights[r];
      for (let i = 0; i < n; i++) dst[i] = dst[i] + w * v[a + i];
    }
  }

  #barrier(): void {
    const s = this.#sync;
    if (Atomics.load(s, FAILED) !== 0) throw new ExchangeError(OTHER_REPLICA_FAILED);
    const generation = Atomics.load(s, GENERATION);
    if (Atomics.add(s, ARRIVED, 1) === this.ranks - 1) {
      // Last to arrive: decide for everyone, then release them.
      Atomics.store(s, ARRIVED, 0);
      Atomics.store(s, STOP_DECIDED, Atomics.load(s, STOP_REQUEST));
      Atomics.add(s, GENERATION, 1);
      Atomics.notify(s, GENERATION);
    } else {
      const deadline = performance.now() + EXCHANGE_TIMEOUT_MS;
      while (Atomics.load(s, GENERATION) === generation) {
        if (Atomics.load(s, FAILED) !== 0) throw new ExchangeError(OTHER_REPLICA_FAILED);
        const left = deadline - performance.now();
        if (left <= 0) {
          this.fail();
          throw new ExchangeError(
            `data-parallel training: replica ${this.rank} waited ${EXCHANGE_TIMEOUT_MS} ms for the others at step ${this.#step}`,
          );
        }
        Atomics.wait(s, GENERATION, generation, Math.min(left, WAIT_SLICE_MS));
      }
    }
    this.#stop = Atomics.load(s, STOP_DECIDED) !== 0;
  }
}

/** True when no two tensors share memory (writing one in place would change another). */
function distinctData(values: readonly tf.Tensor[]): boolean {
  return new Set(values.map((t) => t.dataId)).size === values.length;
}
