/**
 * Models that materialise only while a peer trains or evaluates (issue 16): many peers of
 * one process (a simulation) share a few Trainers, and each peer's state rests between
 * uses as arrays (PooledTrainer: every layer, the SGD momentum and its batch-order
 * generator), about 2x the parameter bytes instead of a tfjs model, its momentum and a
 * scratch model in the wasm heap, which never shrinks.
 *
 * Synchronous work (evaluate, evaluateWeights, mergeScoring, train) runs on one shared
 * Trainer: nothing else runs before it returns. trainAsync yields to the event loop, so it
 * leases a Trainer of its own for the whole call; at most `trainers` are built, and later
 * callers wait their turn (first come, first served).
 *
 * Same options and seed give the same numbers as a resident Trainer, bit for bit: a lease
 * loads the peer's weights, momentum and generator, and reads them back after.
 */
import type { Dataset } from '../data/dataset.ts';
import type { Rng } from '../data/rng.ts';
import type { ClassScores, LinearInputEvaluator } from '../model/evaluation.ts';
import { sameArchitecture, type Weights } from '../model/weights.ts';
import {
  batchOrderRng,
  type ModelInfo,
  type PeerTrainer,
  type TrainAmount,
  type Trainable,
  type Trainer,
  type TrainerState,
  type TrainResult,
} from './trainer.ts';

/** Trainers built for leases by default: one per core a simulation process usually has. */
export const DEFAULT_POOL_TRAINERS = 2;

export interface ModelPoolOptions {
  /**
   * Builds one Trainer of the pool: every call the same model, weights and options (the
   * seed does not matter: a peer brings its batch order). The pool owns and releases them.
   * The first one's weights are every peer's starting state, shared read-only until it trains.
   */
  readonly build: () => Trainer;
  /** Trainers leased to trainAsync at most at once. Default DEFAULT_POOL_TRAINERS. */
  readonly trainers?: number;
}

export class ModelPool {
  /** Runs the synchronous work of every peer; also the source of the architecture. */
  readonly #shared: Trainer;
  readonly #build: () => Trainer;
  readonly #initial: Weights;
  readonly #max: number;
  readonly #idle: Trainer[] = [];
  readonly #all: Trainer[] = [];
  readonly #waiting: Array<(t: Trainer) => void> = [];
  readonly trainedLayers: ReadonlySet<string>;
  readonly trainableLayers: ReadonlySet<string>;
  #closed = false;

  constructor(options: ModelPoolOptions) {
    const max = options.trainers ?? DEFAULT_POOL_TRAINERS;
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`trainers must be an integer >= 1, got ${max}`);
    this.#max = max;
    this.#build = options.build;
    this.#shared = options.build();
    this.#initial = this.#shared.getWeights();
    this.trainedLayers = this.#shared.trainedLayers();
    this.trainableLayers = this.#shared.trainableLayers();
  }

  get model(): ModelInfo {
    return this.#shared.model;
  }

  get trainable(): Trainable {
    return this.#shared.trainable;
  }

  /** Trainers built so far (the shared one included). */
  get size(): number {
    return this.#all.length + 1;
  }

  /** A peer's trainer on this pool, starting from the initial weights with batch order `seed`. */
  trainer(seed: number): PooledTrainer {
    this.#check();
    return new PooledTrainer(this, { weights: this.#initial, velocity: undefined, batches: batchOrderRng(seed) });
  }

  /** Runs `use` on the shared Trainer loaded with `state` (synchronous: nothing interleaves). */
  withShared<T>(state: TrainerState, use: (t: Trainer) => T, loadOptimizer: boolean): T {
    this.#check();
    const t = this.#shared;
    if (loadOptimizer) t.importState(state);
    else t.setWeights(state.weights);
    return use(t);
  }

  /** The shared Trainer, for work that reads no peer's state (scoring given weights). */
  scorer(): Trainer {
    this.#check();
    return this.#shared;
  }

  /** Leases a Trainer for an asynchronous call; give it back with `give`. */
  async lease(): Promise<Trainer> {
    this.#check();
    const idle = this.#idle.pop();
    if (idle !== undefined) return idle;
    if (this.#all.length < this.#max) {
      const t = this.#build();
      this.#all.push(t);
      return t;
    }
    return new Promise<Trainer>((resolve) => this.#waiting.push(resolve));
  }

  give(t: Trainer): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next(t);
    else this.#idle.push(t);
  }

  /** Frees every Trainer; peers' states stay readable but can no longer train or evaluate. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#shared.release();
    for (const t of this.#all) t.release();
    this.#all.length = 0;
    this.#idle.length = 0;
  }

  #check(): void {
    if (this.#closed) throw new Error('model pool is closed');
  }
}

/**
 * A peer's trainer whose model materialises only while it trains or evaluates (ModelPool).
 * Between uses it holds its state as arrays; getWeights returns those arrays (read-only:
 * they are replaced, never written, when the state changes).
 */
export class PooledTrainer implements PeerTrainer {
  readonly #pool: ModelPool;
  #state: TrainerState;

  constructor(pool: ModelPool, state: TrainerState) {
    this.#pool = pool;
    this.#state = state;
  }

  get model(): ModelInfo {
    return this.#pool.model;
  }

  get trainable(): Trainable {
    return this.#pool.trainable;
  }

  trainedLayers(): ReadonlySet<string> {
    return this.#pool.trainedLayers;
  }

  trainableLayers(): ReadonlySet<string> {
    return this.#pool.trainableLayers;
  }

  getWeights(): Weights {
    return [...this.#state.weights];
  }

  setWeights(w: Weights): void {
    if (!sameArchitecture(this.#state.weights, w)) throw new Error('weights do not fit the model');
    this.#state = { ...this.#state, weights: [...w] };
  }

  setLayers(layers: Weights): void {
    const byName = new Map(layers.map((l) => [l.name, l]));
    const current = new Set(this.#state.weights.map((l) => l.name));
    for (const l of layers) if (!current.has(l.name)) throw new Error(`layer ${l.name} does not fit the model`);
    const weights = this.#state.weights.map((l) => {
      const next = byName.get(l.name);
      if (next === undefined) return l;
      if (next.shape.join() !== l.shape.join()) throw new Error(`layer ${l.name} does not fit the model`);
      return next;
    });
    this.#state = { ...this.#state, weights };
  }

  resetOptimizer(): void {
    this.#state = { ...this.#state, velocity: undefined };
  }

  /** The batch-order generator this peer trains with (it advances as the peer trains). */
  get batches(): Rng {
    return this.#state.batches;
  }

  train(data: Dataset, amount: TrainAmount): TrainResult {
    return this.#pool.withShared(
      this.#state,
      (t) => {
        const result = t.train(data, amount);
        this.#state = t.exportState();
        return result;
      },
      true,
    );
  }

  async trainAsync(data: Dataset, amount: TrainAmount, options: { signal?: AbortSignal } = {}): Promise<TrainResult> {
    const t = await this.#pool.lease();
    try {
      t.importState(this.#state);
      const result = await t.trainAsync(data, amount, options);
      this.#state = t.exportState();
      return result;
    } finally {
      this.#pool.give(t);
    }
  }

  evaluate(data: Dataset): ClassScores {
    return this.#pool.withShared(this.#state, (t) => t.evaluate(data), false);
  }

  /** Scores other weights: the pool's scratch model, none of this peer's state. */
  evaluateWeights(w: Weights, data: Dataset): ClassScores {
    return this.#pool.scorer().evaluateWeights(w, data);
  }

  /**
   * Valid until the calling code yields to the event loop (a merge is synchronous): its
   * scoring runs on the pool's scratch model, which other peers use between turns.
   */
  mergeScoring(data: Dataset): { evaluate: (w: Weights) => ClassScores; linearInput?: LinearInputEvaluator } {
    return this.#pool.scorer().mergeScoring(data);
  }

  /** Drops the state (the pool's trainers belong to the pool). */
  release(): void {
    this.#state = { ...this.#state, weights: [], velocity: undefined };
  }
}
