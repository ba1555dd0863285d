/**
 * Models that materialise only while a peer trains or evaluates (issue 16): the peers of
 * one process (a simulation) share one Trainer, and each peer's state rests between uses as
 * arrays (PooledTrainer: every layer, the SGD momentum and its batch-order generator),
 * instead of a tfjs model, its momentum and a scratch model per peer in the wasm heap,
 * which never shrinks.
 *
 * The shared Trainer holds one peer's state at a time, like a cache line: a peer that
 * uses it loads its state unless it is already there, and the peer whose state is there is
 * written back to its arrays first if it changed (trained). A training that yields to the
 * event loop (trainAsync, every few steps) lets other peers use the model meanwhile and
 * loads its state again before its next step, so peers interleave their steps exactly as
 * they would with a model each: the timing of an asynchronous run is kept, at the cost of a
 * copy of weights and momentum when another peer took the model.
 *
 * Same options and seed give the same numbers as a resident Trainer, bit for bit: the
 * state moves between the model and the arrays only between steps, exactly.
 */
import type { Dataset } from '../data/dataset.ts';
import type { ClassScores, LinearInputEvaluator } from '../model/evaluation.ts';
import { sameArchitecture, type Weights } from '../model/weights.ts';
import type { ScoringSplit } from './public-rows.ts';
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

export interface ModelPoolOptions {
  /**
   * Builds the pool's Trainer (the seed does not matter: a peer brings its batch order).
   * Its weights are every peer's starting state, shared read-only until the peer trains.
   * The pool owns and releases it.
   */
  readonly build: () => Trainer;
}

/** What the shared model holds: whose state, and whether it changed since it was loaded. */
interface Holder {
  readonly peer: PooledTrainer;
  dirty: boolean;
}

export class ModelPool {
  readonly #model: Trainer;
  readonly #initial: Weights;
  #holder: Holder | undefined;
  #loads = 0;
  #closed = false;
  readonly trainedLayers: ReadonlySet<string>;
  readonly trainableLayers: ReadonlySet<string>;

  constructor(options: ModelPoolOptions) {
    this.#model = options.build();
    this.#initial = this.#model.getWeights();
    this.trainedLayers = this.#model.trainedLayers();
    this.trainableLayers = this.#model.trainableLayers();
  }

  get model(): ModelInfo {
    return this.#model.model;
  }

  get trainable(): Trainable {
    return this.#model.trainable;
  }

  /** States loaded into the model so far (a measure of how often peers displaced each other). */
  get loads(): number {
    return this.#loads;
  }

  /** A peer's trainer on this pool, starting from the initial weights with batch order `seed`. */
  trainer(seed: number): PooledTrainer {
    this.#check();
    return new PooledTrainer(this, { weights: this.#initial, velocity: undefined, batches: batchOrderRng(seed) });
  }

  /** The model holding `peer`'s state (loaded unless it is there); `changes`: the caller will change it. */
  load(peer: PooledTrainer, state: () => TrainerState, changes: boolean): Trainer {
    this.#check();
    const held = this.#holder;
    if (held?.peer !== peer) {
      this.#writeBack();
      this.#model.importState(state());
      this.#loads++;
      this.#holder = { peer, dirty: changes };
    } else if (changes) {
      held.dirty = true;
    }
    return this.#model;
  }

  /** `peer`'s current state, read back from the model if it is there and changed. */
  sync(peer: PooledTrainer): TrainerState | undefined {
    const held = this.#holder;
    if (held?.peer !== peer || !held.dirty) return undefined;
    held.dirty = false;
    return this.#model.exportState();
  }

  /** The model no longer holds `peer`'s state (its arrays were replaced, or it is gone). */
  forget(peer: PooledTrainer): void {
    if (this.#holder?.peer === peer) this.#holder = undefined;
  }

  /** The Trainer for work that reads no peer's state (scoring given weights, on its scratch model). */
  scorer(): Trainer {
    this.#check();
    return this.#model;
  }

  /** Frees the model; peers' states stay readable but can no longer train or evaluate. */
  close(): void {
    if (this.#closed) return;
    this.#writeBack();
    this.#closed = true;
    this.#model.release();
  }

  #writeBack(): void {
    const held = this.#holder;
    if (held === undefined) return;
    if (held.dirty) held.peer.park(this.#model.exportState());
    this.#holder = undefined;
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

  get evalBatchSize(): number {
    return this.#pool.scorer().evalBatchSize;
  }

  trainedLayers(): ReadonlySet<string> {
    return this.#pool.trainedLayers;
  }

  trainableLayers(): ReadonlySet<string> {
    return this.#pool.trainableLayers;
  }

  /** Takes the state the pool's model wrote back (another peer needed the model). */
  park(state: TrainerState): void {
    this.#state = state;
  }

  getWeights(): Weights {
    return [...this.#current().weights];
  }

  setWeights(w: Weights): void {
    const state = this.#current();
    if (!sameArchitecture(state.weights, w)) throw new Error('weights do not fit the model');
    this.#replace({ ...state, weights: [...w] });
  }

  setLayers(layers: Weights): void {
    const state = this.#current();
    const byName = new Map(layers.map((l) => [l.name, l]));
    const names = new Set(state.weights.map((l) => l.name));
    for (const l of layers) if (!names.has(l.name)) throw new Error(`layer ${l.name} does not fit the model`);
    const weights = state.weights.map((l) => {
      const next = byName.get(l.name);
      if (next === undefined) return l;
      if (next.shape.join() !== l.shape.join()) throw new Error(`layer ${l.name} does not fit the model`);
      return next;
    });
    this.#replace({ ...state, weights });
  }

  resetOptimizer(): void {
    this.#replace({ ...this.#current(), velocity: undefined });
  }

  train(data: Dataset, amount: TrainAmount): TrainResult {
    return this.#load(true).train(data, amount);
  }

  async trainAsync(data: Dataset, amount: TrainAmount, options: { signal?: AbortSignal } = {}): Promise<TrainResult> {
    // Other peers may use the model at each turn of the event loop: ours is loaded again
    // before the next step.
    return this.#load(true).trainAsync(data, amount, { ...options, resumed: () => this.#load(true) });
  }

  evaluate(data: Dataset): ClassScores {
    return this.#load(false).evaluate(data);
  }

  /** Scores other weights: the pool's scratch model, none of this peer's state. */
  evaluateWeights(w: Weights, data: Dataset): ClassScores {
    return this.#pool.scorer().evaluateWeights(w, data);
  }

  /**
   * Valid until the calling code yields to the event loop (a merge is synchronous): its
   * scoring runs on the pool's scratch model, which other peers use between turns.
   */
  mergeScoring(
    data: Dataset,
    split?: ScoringSplit,
  ): { evaluate: (w: Weights) => ClassScores; linearInput?: LinearInputEvaluator } {
    return this.#pool.scorer().mergeScoring(data, split);
  }

  /** This peer's state (read-only arrays), as Trainer.exportState gives it. */
  exportState(): TrainerState {
    return this.#current();
  }

  /** Takes on `state` (its arrays become this peer's, read-only), as Trainer.importState does. */
  importState(state: TrainerState): void {
    const current = this.#current();
    if (!sameArchitecture(current.weights, state.weights)) throw new Error('state does not fit the model');
    this.#replace({ ...state, weights: [...state.weights] });
  }

  /** Drops the state (the model belongs to the pool). */
  release(): void {
    this.#pool.forget(this);
    this.#state = { ...this.#state, weights: [], velocity: undefined };
  }

  #load(changes: boolean): Trainer {
    return this.#pool.load(this, () => this.#state, changes);
  }

  /** The state, read back from the pool's model first if it trained there since it was loaded. */
  #current(): TrainerState {
    const synced = this.#pool.sync(this);
    if (synced !== undefined) this.#state = synced;
    return this.#state;
  }

  #replace(state: TrainerState): void {
    this.#pool.forget(this);
    this.#state = state;
  }
}
