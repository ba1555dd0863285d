/**
 * Trainer: local training steps and per-class evaluation of one Model.
 *
 * `trainable: "all"` trains every parameter. `trainable: "head"` freezes the backbone
 * (Bristle's transfer-learning mode): backbone features of a dataset are computed once
 * and cached, and only the output layer is trained, evaluated and exchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { type Dataset, featureSize as datasetFeatureSize } from '../data/dataset.ts';
import { createRng, type Rng } from '../data/rng.ts';
import type { ClassScores, LinearInputEvaluator } from '../model/evaluation.ts';
import { buildModel, getWeights, type LinearInput, type Model, setWeights } from '../model/model.ts';
import type { ModelSpec } from '../model/spec.ts';
import type { Weights } from '../model/weights.ts';
import { classScores, confusionMatrix } from './metrics.ts';
import { NOTHING_SHARED, type RowsScores, type ScoringSplit } from './public-rows.ts';
import { DEFAULT_SGD, Sgd, type SgdOptions, validateSgd } from './sgd.ts';

export type Trainable = 'all' | 'head';

/** The output layer's tensors: logits = features x kernel (+ bias). */
interface Head {
  readonly kernel: tf.Tensor;
  readonly bias?: tf.Tensor;
}

function headNames(model: Model): ReadonlySet<string> {
  const { kernel, bias } = model.outputLayer;
  return new Set(bias === undefined ? [kernel] : [kernel, bias]);
}

function headOf(model: Model): Head {
  const find = (name: string): tf.Variable => {
    const v = model.variables.find((x) => x.name === name);
    if (v === undefined) throw new Error(`model has no output layer variable ${name}`);
    return v.variable;
  };
  const { kernel, bias } = model.outputLayer;
  return { kernel: find(kernel), ...(bias === undefined ? {} : { bias: find(bias) }) };
}

/** A batch of inputs without the features that are zero in every row of it. */
interface CompactInputs {
  /** The features kept (nonzero in some row), ascending. */
  readonly kept: Int32Array;
  /** The features left out. */
  readonly skipped: Int32Array;
  /** [rows x kept] */
  readonly x: Float32Array;
}

/** Compact inputs when at most this share of the features is nonzero somewhere in a batch. */
const COMPACT_BELOW = 0.9;

/** `rows` ([count x features]) compacted, or undefined when too few features are zero throughout. */
function compactInputs(rows: Float32Array, count: number, features: number): CompactInputs | undefined {
  const used = new Uint8Array(features);
  for (let i = 0; i < count; i++) {
    const base = i * features;
    for (let p = 0; p < features; p++) if (rows[base + p] !== 0) used[p] = 1;
  }
  const keptCount = used.reduce((sum, u) => sum + u, 0);
  if (keptCount > COMPACT_BELOW * features) return undefined;
  const kept = new Int32Array(keptCount);
  const skipped = new Int32Array(features - keptCount);
  for (let p = 0, a = 0, b = 0; p < features; p++) {
    if (used[p] === 1) kept[a++] = p;
    else skipped[b++] = p;
  }
  const x = new Float32Array(count * keptCount);
  for (let i = 0; i < count; i++)
    for (let c = 0; c < keptCount; c++) x[i * keptCount + c] = rows[i * features + kept[c]];
  return { kept, skipped, x };
}

/** Whether the kernel rows of the skipped features are finite (0 x Inf would not be 0). */
function skippedRowsFinite(kernel: Float32Array, skipped: Int32Array, units: number): boolean {
  for (const p of skipped) {
    const base = p * units;
    for (let u = 0; u < units; u++) {
      const v = kernel[base + u];
      if (v - v !== 0) return false;
    }
  }
  return true;
}

/** The first public row of a split of n rows; undefined when nothing splits (no public rows, or only public rows). */
function validSplit(split: ScoringSplit | undefined, n: number): number | undefined {
  if (split === undefined) return undefined;
  if (!(Number.isInteger(split.from) && split.from >= 0 && split.from <= n))
    throw new RangeError(`a scoring split must start at a row in [0, ${n}], got ${split.from}`);
  return split.from === n ? undefined : split.from;
}

function applyHead(features: tf.Tensor2D, head: Head): tf.Tensor2D {
  const z = tf.matMul(features, head.kernel as tf.Tensor2D);
  return (head.bias ? tf.add(z, head.bias) : z) as tf.Tensor2D;
}

export interface TrainerOptions {
  /** Mini-batch size. Default 32. */
  readonly batchSize?: number;
  readonly optimizer?: Partial<SgdOptions>;
  /** Which parameters are trained and exchanged. Default "all". */
  readonly trainable?: Trainable;
  /** Seed of the batch order. Default 0. */
  readonly seed?: number;
  /** Batch size for evaluation and feature extraction. Default 512. */
  readonly evalBatchSize?: number;
}

/**
 * Synchronous data-parallel training (node/data-parallel): this Trainer is replica `rank` of
 * `ranks`, all built with the same options and seed (so the same batch order) from the same
 * weights. Each step, replica r computes the loss and gradients of its slice of the global
 * batch, and `allReduce` returns their weighted sums over the replicas, the same bits on
 * every replica. Every replica then applies the same update to the same weights, so the
 * replicas stay equal, and the update is that of the whole batch (up to float rounding).
 */
export interface GradientExchange {
  readonly rank: number;
  readonly ranks: number;
  /**
   * 1: synchronous SGD, the gradients of every batch's slices are summed every step
   * (allReduce): the updates of one thread. k >= 2: local SGD, each replica steps its own
   * copy of the model on its slice of every batch (the same batches, in the same order),
   * and every k steps (and after the last) the replicas replace their weights and momentum
   * by the group's mean (weightedSum): one exchange and barrier per k steps, not per step.
   * The updates are then no longer exactly those of one thread (accuracy is measured:
   * docs/PERFORMANCE.md); the replica's loss is that of its own slices.
   */
  readonly syncEvery: number;
  /**
   * Called once per step by every replica. `values`: this replica's loss (a scalar) then one
   * gradient per trained variable (Trainer.gradientSize's order); `weights[r]`: replica r's
   * share of the batch (its samples / the batch's; 0 for an empty slice, whose values are
   * then ignored). Returns Σ_r weights[r] * values_r, tensors in the same shapes.
   */
  allReduce(values: readonly tf.Tensor[], weights: readonly number[]): tf.Tensor[];
  /**
   * Local SGD's synchronisation, called by every replica at the same step: Σ_r weights[r] *
   * values_r, the tensors' values one after another in one array (the same bits on every
   * replica; valid until the next call).
   */
  weightedSum(values: readonly tf.Tensor[], weights: readonly number[]): Float32Array;
}

export type TrainAmount = { readonly epochs: number } | { readonly steps: number };

/**
 * What a Trainer holds of one participant between uses: every layer's values, the SGD
 * momentum of the trained variables (undefined before the first step or after a reset),
 * and the batch-order generator. A model pool (model-pool.ts) parks a peer's state here
 * while the pool's models serve other peers; the arrays are read-only once exported.
 */
export interface TrainerState {
  readonly weights: Weights;
  readonly velocity: readonly Float32Array[] | undefined;
  readonly batches: Rng;
}

/** The batch-order generator a Trainer seeded with `seed` starts from. */
export function batchOrderRng(seed: number): Rng {
  return createRng(seed).fork('batches');
}

/** What a Peer and the front ends read of a trainer's model (the architecture, not its values). */
export interface ModelInfo {
  readonly spec: ModelSpec;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly outputLayer: Model['outputLayer'];
}

/**
 * The trainer a Peer uses: a resident Trainer (its model lives as long as it does), or a
 * PooledTrainer (model-pool.ts: state held as arrays, a model only while it trains or
 * evaluates). Weights returned by getWeights are read-only.
 */
export interface PeerTrainer {
  readonly model: ModelInfo;
  readonly trainable: Trainable;
  /** Rows per evaluation batch (merge scores run over batches of this many rows). */
  readonly evalBatchSize: number;
  trainedLayers(): ReadonlySet<string>;
  trainableLayers(): ReadonlySet<string>;
  getWeights(): Weights;
  setWeights(w: Weights): void;
  setLayers(layers: Weights): void;
  resetOptimizer(): void;
  train(data: Dataset, amount: TrainAmount): TrainResult;
  trainAsync(data: Dataset, amount: TrainAmount, options?: { signal?: AbortSignal }): Promise<TrainResult>;
  evaluate(data: Dataset): ClassScores;
  evaluateWeights(w: Weights, data: Dataset): ClassScores;
  mergeScoring(
    data: Dataset,
    split?: ScoringSplit,
  ): { evaluate: (w: Weights) => ClassScores; linearInput?: LinearInputEvaluator };
  /** Frees everything it holds (a resident Trainer: its tensors and its model). */
  release(): void;
}

/**
 * A peer's trainer whose whole state can be read and replaced: a Trainer, or a pooled one
 * (model-pool.ts). What training elsewhere (a worker pool) moves to and fro.
 */
export type StatefulTrainer = PeerTrainer & {
  exportState(): TrainerState;
  importState(state: TrainerState): void;
};

export interface TrainProgress {
  readonly epoch: number;
  readonly step: number;
  readonly totalSteps: number;
  readonly samples: number;
  /**
   * Mean loss over the steps whose loss has been read: the loss stays on the backend and is
   * read every LOSS_READ_EVERY steps and at the last step (NaN before the first read).
   */
  readonly loss: number;
  readonly elapsedMs: number;
}

export interface TrainResult {
  readonly steps: number;
  readonly samples: number;
  readonly loss: number;
  readonly elapsedMs: number;
}

const DEFAULT_BATCH = 32;
const DEFAULT_EVAL_BATCH = 512;
/** Training steps between event-loop turns in trainAsync. */
const DEFAULT_YIELD_EVERY = 4;
/**
 * Steps between reads of the loss. A read waits for the backend to finish (a pipeline
 * stall on webgl/webgpu); equal to DEFAULT_YIELD_EVERY, so an aborted trainAsync reports
 * the loss of every step it did.
 */
export const LOSS_READ_EVERY = DEFAULT_YIELD_EVERY;

export class Trainer implements PeerTrainer {
  readonly model: Model;
  readonly trainable: Trainable;
  readonly batchSize: number;
  readonly evalBatchSize: number;
  readonly optimizerOptions: SgdOptions;
  #rng: Rng;
  readonly #sgd: Sgd;
  readonly #trainedVariables: tf.Variable[];
  /** Backbone features per dataset (head mode); valid while the backbone is unchanged. */
  #featureCache = new WeakMap<Dataset, tf.Tensor2D>();
  #cachedFeatures: tf.Tensor2D[] = [];
  /** Model that holds weights under evaluation (evaluateWeights), built on first use. */
  #scratch: Model | undefined;

  readonly #exchange: GradientExchange | undefined;

  /** `exchange`: train as one replica of a data-parallel group (see GradientExchange). */
  constructor(model: Model, options: TrainerOptions = {}, exchange?: GradientExchange) {
    this.model = model;
    this.trainable = options.trainable ?? 'all';
    if (this.trainable !== 'all' && this.trainable !== 'head') throw new Error('trainable must be "all" or "head"');
    this.batchSize = options.batchSize ?? DEFAULT_BATCH;
    this.evalBatchSize = options.evalBatchSize ?? DEFAULT_EVAL_BATCH;
    if (!(Number.isInteger(this.batchSize) && this.batchSize >= 1))
      throw new Error('batchSize must be an integer >= 1');
    this.optimizerOptions = validateSgd(options.optimizer ?? DEFAULT_SGD);
    this.#rng = batchOrderRng(options.seed ?? 0);
    const head = headNames(model);
    const trained = model.variables.filter((v) => v.trainable && (this.trainable === 'all' || head.has(v.name)));
    this.#trainedVariables = trained.map((v) => v.variable);
    this.#sgd = new Sgd(this.optimizerOptions, trained, model.gradMultipliers);
    if (exchange !== undefined) {
      const { rank, ranks, syncEvery } = exchange;
      if (!(Number.isInteger(ranks) && ranks >= 1 && Number.isInteger(rank) && rank >= 0 && rank < ranks))
        throw new Error(`data-parallel replica ${rank} of ${ranks}: rank must be an integer in [0, ranks)`);
      if (!(Number.isInteger(syncEvery) && syncEvery >= 1))
        throw new Error(`data-parallel: syncEvery must be an integer >= 1, got ${syncEvery}`);
    }
    this.#exchange = exchange;
  }

  /** Values a data-parallel step exchanges: the loss and every trained variable's gradient. */
  gradientSize(): number {
    return 1 + this.#trainedVariables.reduce((n, v) => n + v.size, 0);
  }

  /**
   * Values a replica contributes to each exchange of a group synchronising every
   * `syncEvery` steps: the gradients (1), or the trained variables and their momentum (local SGD).
   */
  exchangeSize(syncEvery: number): number {
    if (syncEvery === 1) return this.gradientSize();
    const params = this.#trainedVariables.reduce((n, v) => n + v.size, 0);
    return this.optimizerOptions.momentum > 0 ? 2 * params : params;
  }

  /** Local SGD: the trained variables, then their momentum (when there is momentum). */
  #syncedVariables(): tf.Variable[] {
    const vars = this.#trainedVariables;
    return this.optimizerOptions.momentum > 0 ? [...vars, ...this.#sgd.velocities(vars)] : vars;
  }

  /**
   * Local SGD's synchronisation: this replica's trained variables and momentum become the
   * group's mean, each replica weighted by the samples it trained since the last one
   * (`samples[r]`). SGD with momentum is linear in the gradient, so with k = 1 this is the
   * update of the whole batch; with k > 1 it drifts from it as the replicas' weights part.
   * A mean and not the sum of the replicas' updates, which overshoots where each replica
   * already reaches a minimum (tried: the MLP lost 1-29 points of accuracy). Every replica
   * computes the same bits.
   */
  #synchronise(exchange: GradientExchange, samples: readonly number[]): void {
    const all = this.#syncedVariables();
    const total = samples.reduce((a, b) => a + b, 0);
    const mean = exchange.weightedSum(
      all,
      samples.map((n) => n / total),
    );
    tf.tidy(() => {
      let off = 0;
      for (const v of all) {
        // A copy: the cpu backend keeps the array it is given, and `mean` is reused.
        v.assign(tf.tensor(mean.slice(off, off + v.size), v.shape, 'float32'));
        off += v.size;
      }
    });
  }

  /**
   * Names of the layers local training changes: the trained ones and, unless only the
   * head trains, the state the training pass updates (BatchNorm moving statistics), local
   * (FedBN) or not. What training elsewhere (a worker pool) must carry back and forth.
   */
  trainedLayers(): ReadonlySet<string> {
    const head = headNames(this.model);
    return new Set(
      this.model.variables
        .filter((v) => (this.trainable === 'head' ? head.has(v.name) && v.trainable : true))
        .map((v) => v.name),
    );
  }

  /**
   * Names of the layers that are exchanged with peers and merged: the trained ones, plus
   * the state the training pass updates (BatchNorm moving statistics) unless the model keeps
   * it local (FedBN).
   */
  trainableLayers(): ReadonlySet<string> {
    const head = headNames(this.model);
    return new Set(
      this.model.variables
        .filter((v) =>
          this.trainable === 'head' ? head.has(v.name) && v.trainable : v.trainable || this.model.exchangeState,
        )
        .map((v) => v.name),
    );
  }

  getWeights(): Weights {
    return getWeights(this.model);
  }

  /** Replaces the model's parameters; clears cached features if the backbone changed. */
  setWeights(w: Weights): void {
    setWeights(this.model, w);
    this.#clearFeatures();
  }

  /** Replaces only the named layers (e.g. the exchanged ones after a merge). */
  setLayers(layers: Weights): void {
    const byName = new Map(this.model.variables.map((v) => [v.name, v]));
    const head = headNames(this.model);
    let backboneChanged = false;
    tf.tidy(() => {
      for (const l of layers) {
        const v = byName.get(l.name);
        if (!v || v.shape.join() !== l.shape.join()) throw new Error(`layer ${l.name} does not fit the model`);
        v.variable.assign(tf.tensor(l.values, [...v.shape]));
        if (!head.has(l.name)) backboneChanged = true;
      }
    });
    if (backboneChanged) this.#clearFeatures();
  }

  /** Trains for whole epochs or a number of steps over `data`, shuffled per epoch. */
  train(data: Dataset, amount: TrainAmount, onProgress?: (p: TrainProgress) => void): TrainResult {
    const steps = this.steps(data, amount);
    for (;;) {
      const next = steps.next();
      if (next.done) return next.value;
      onProgress?.(next.value);
    }
  }

  /**
   * Like `train`, but gives the event loop a turn every `yieldEvery` steps so network
   * traffic and timers keep flowing while a peer trains. `signal` stops early (the steps
   * done so far are kept). `resumed` runs after each turn, before the next step: a model
   * pool puts this participant's state back if the model served another one meanwhile.
   */
  async trainAsync(
    data: Dataset,
    amount: TrainAmount,
    options: {
      yieldEvery?: number;
      signal?: AbortSignal;
      onProgress?: (p: TrainProgress) => void;
      resumed?: () => void;
    } = {},
  ): Promise<TrainResult> {
    const yieldEvery = options.yieldEvery ?? DEFAULT_YIELD_EVERY;
    const steps = this.steps(data, amount);
    let last: TrainProgress | undefined;
    for (let i = 1; ; i++) {
      const next = steps.next();
      if (next.done) return next.value;
      last = next.value;
      options.onProgress?.(last);
      if (i % yieldEvery === 0) {
        await new Promise<void>((resolve) => setTimeout(resolve, 0));
        options.resumed?.();
        if (options.signal?.aborted) {
          return { steps: last.step, samples: last.samples, loss: last.loss, elapsedMs: last.elapsedMs };
        }
      }
    }
  }

  /** The training loop as a generator: one progress report per step, the result at the end. */
  *steps(data: Dataset, amount: TrainAmount): Generator<TrainProgress, TrainResult> {
    const n = data.y.length;
    if (n === 0) return { steps: 0, samples: 0, loss: Number.NaN, elapsedMs: 0 };
    const bs = Math.min(this.batchSize, n);
    const stepsPerEpoch = Math.ceil(n / bs);
    const totalSteps = 'epochs' in amount ? Math.round(amount.epochs * stepsPerEpoch) : amount.steps;
    if (!(Number.isInteger(totalSteps) && totalSteps >= 0))
      throw new Error('epochs/steps must give a whole number >= 0');
    const start = performance.now();
    const inputs = this.trainable === 'head' ? this.#features(data) : undefined;
    const f = inputs ? this.model.featureSize : datasetFeatureSize(data);
    const inputShape = inputs ? [this.model.featureSize] : [...data.featureShape];
    const source = inputs ? (inputs.dataSync() as Float32Array) : data.x;
    const head = headOf(this.model);

    const K = this.model.numClasses;
    const exchange = this.#exchange;
    const rank = exchange?.rank ?? 0;
    const ranks = exchange?.ranks ?? 1;
    /** Local SGD (see GradientExchange.syncEvery): models averaged every few steps. */
    const local = exchange !== undefined && exchange.syncEvery > 1 ? exchange : undefined;
    /** Local SGD: samples each replica trained since the last synchronisation. */
    const sinceSync = new Array<number>(ranks).fill(0);
    // Staging buffers for one batch (this replica's slice), reused every step (a smaller
    // slice uses a prefix).
    const most = Math.ceil(bs / ranks);
    const xStage = new Float32Array(most * f);
    const yStage = new Float32Array(most * K);
    let order = new Uint32Array(0);
    let lossSum = 0;
    let lossSteps = 0;
    /** Loss scalars of the steps since the last read, still on the backend. */
    const pending: tf.Scalar[] = [];
    let samples = 0;
    try {
      for (let step = 0; step < totalSteps; step++) {
        const inEpoch = step % stepsPerEpoch;
        if (inEpoch === 0) order = Uint32Array.from(this.#rng.shuffle(Array.from({ length: n }, (_, i) => i)));
        const count = Math.min(bs, n - inEpoch * bs);
        // A data-parallel replica takes its slice [lo, hi) of the batch (all of it alone).
        const sliceStart = (r: number): number => Math.floor((r * count) / ranks);
        const lo = sliceStart(rank);
        const mine = sliceStart(rank + 1) - lo;
        if (local) for (let r = 0; r < ranks; r++) sinceSync[r] += sliceStart(r + 1) - sliceStart(r);
        const from = inEpoch * bs + lo;
        const xb = mine === xStage.length / f ? xStage : xStage.subarray(0, mine * f);
        const yb = mine === yStage.length / K ? yStage : yStage.subarray(0, mine * K);
        yb.fill(0);
        for (let i = 0; i < mine; i++) {
          const j = order[from + i];
          xb.set(source.subarray(j * f, (j + 1) * f), i * f);
          const label = data.y[j];
          if (label >= K) throw new Error(`label ${label} at sample ${j} is out of range for ${K} classes`);
          yb[i * K + label] = 1;
        }
        if (!local || mine > 0)
          pending.push(
            tf.tidy(() => {
              let loss: tf.Tensor;
              let grads: tf.Tensor[];
              if (mine > 0) {
                const x = tf.tensor(xb, [mine, ...inputShape]);
                const y = tf.tensor2d(yb, [mine, K]);
                const lossFn = (): tf.Scalar => {
                  const logits = inputs ? applyHead(x as tf.Tensor2D, head) : this.model.logits(x, true);
                  return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
                };
                const r = tf.variableGrads(lossFn, this.#trainedVariables);
                loss = r.value;
                grads = this.#trainedVariables.map((v) => r.grads[v.name]);
              } else {
                // An empty slice (a last batch smaller than the replicas): weight 0, values ignored.
                loss = tf.scalar(0);
                grads = this.#trainedVariables.map((v) => tf.zerosLike(v));
              }
              if (exchange !== undefined && !local) {
                const shares = Array.from({ length: ranks }, (_, r) => (sliceStart(r + 1) - sliceStart(r)) / count);
                [loss, ...grads] = exchange.allReduce([loss, ...grads], shares) as [tf.Tensor, ...tf.Tensor[]];
              }
              const byVar = new Map<tf.Variable, tf.Tensor>();
              for (const [i, v] of this.#trainedVariables.entries()) byVar.set(v, grads[i]);
              this.#sgd.apply(byVar);
              return loss as tf.Scalar;
            }),
          );
        if (local !== undefined) {
          if ((step + 1) % local.syncEvery === 0 || step + 1 === totalSteps) {
            this.#synchronise(local, sinceSync);
            sinceSync.fill(0);
          }
        }
        if (pending.length > 0 && ((step + 1) % LOSS_READ_EVERY === 0 || step + 1 === totalSteps)) {
          lossSum += tf.tidy(() => tf.addN(pending).dataSync()[0]);
          lossSteps += pending.length;
          tf.dispose(pending.splice(0));
        }
        samples += count;
        yield {
          epoch: Math.floor(step / stepsPerEpoch),
          step: step + 1,
          totalSteps,
          samples,
          loss: lossSteps > 0 ? lossSum / lossSteps : Number.NaN,
          elapsedMs: performance.now() - start,
        };
      }
    } finally {
      // A consumer that stops early (return() on the generator) leaves no tensors behind.
      tf.dispose(pending);
    }
    return {
      steps: totalSteps,
      samples,
      loss: lossSteps > 0 ? lossSum / lossSteps : Number.NaN,
      elapsedMs: performance.now() - start,
    };
  }

  /** Per-class scores of the current model on `data`. */
  evaluate(data: Dataset): ClassScores {
    return this.#evaluateWith(data, headOf(this.model));
  }

  /**
   * Scores other weights on `data` without touching the trained model. In head mode only
   * the output layer of `w` is used (the backbone is shared and frozen).
   */
  evaluateWeights(w: Weights, data: Dataset): ClassScores {
    if (this.trainable === 'head') {
      const { kernel: kernelName, bias: biasName } = this.model.outputLayer;
      const kernelLayer = w.find((l) => l.name === kernelName);
      if (!kernelLayer) throw new Error(`weights have no ${kernelName}`);
      const biasLayer = biasName === undefined ? undefined : w.find((l) => l.name === biasName);
      if (biasName !== undefined && !biasLayer) throw new Error(`weights have no ${biasName}`);
      const head: Head = {
        kernel: tf.tensor2d(kernelLayer.values, [this.model.featureSize, this.model.numClasses]),
        ...(biasLayer ? { bias: tf.tensor1d(biasLayer.values) } : {}),
      };
      try {
        return this.#evaluateWith(data, head);
      } finally {
        head.kernel.dispose();
        head.bias?.dispose();
      }
    }
    // A second model holds the weights under evaluation: one upload per call instead of a
    // read-back, an upload and a restore of the trained model (merges evaluate many models).
    const scratch = this.#scratchModel();
    setWeights(scratch, w);
    return this.#evaluateWith(data, headOf(scratch), scratch);
  }

  /**
   * Scoring on `data` split at the model's first layer (Model.linearInput), for merges that
   * score many mixes of the same models: undefined unless the whole model trains and its
   * forward pass starts with a dense layer on the input. Make one per merge: it memoizes
   * each kernel's product by the kernel's values array. `evaluateProjected(project(k), w)`
   * gives the scores of `evaluateWeights(w)` (k = w's kernel), bit for bit: the same ops,
   * but for product terms of inputs that are zero throughout a batch, which are left out.
   * With `split`, the rows before and after `split.from` are multiplied and scored apart (the
   * public rows' results may then come from `split.share`); the scores then differ from
   * evaluateWeights' by float32 rounding only.
   */
  linearEvaluator(data: Dataset, split?: ScoringSplit): LinearInputEvaluator | undefined {
    return this.#linearScoring(data, split)?.linear;
  }

  #linearScoring(
    data: Dataset,
    split: ScoringSplit | undefined,
  ): { linear: LinearInputEvaluator; scoreShared: (p: Float32Array, w: Weights) => ClassScores } | undefined {
    const linear = this.model.linearInput;
    if (this.trainable !== 'all' || linear === undefined) return undefined;
    const kernelVar = this.model.variables.find((v) => v.name === linear.kernel);
    if (kernelVar === undefined) throw new Error(`model has no variable ${linear.kernel}`);
    const kernelShape = [kernelVar.shape[0], linear.units] as [number, number];
    const kernelSize = kernelShape[0] * kernelShape[1];
    const n = data.y.length;
    const f = datasetFeatureSize(data);
    const units = linear.units;
    const memo = new WeakMap<Float32Array, Float32Array>();
    const keep = new Set([linear.kernel]);
    const from = validSplit(split, n);
    const share = split?.share ?? NOTHING_SHARED;
    const batchInputs = new Map<number, CompactInputs | undefined>();
    let gatherBuffer = new Float32Array(0);
    /**
     * Rows [start, end) of X K, in the batches #evaluateWith runs over the same rows. A batch
     * whose inputs are zero in many features (MNIST's borders, a few classes' unused pixels)
     * multiplies only the other features and the kernel's rows for them: the terms left out
     * are exact zeros, so the product is the same (unless those kernel rows are not finite).
     */
    const product = (values: Float32Array, start: number, end: number): Float32Array => {
      const out = new Float32Array((end - start) * units);
      tf.tidy(() => {
        let k: tf.Tensor2D | undefined;
        for (let row = start; row < end; row += this.evalBatchSize) {
          const count = Math.min(this.evalBatchSize, end - row);
          const rows = data.x.subarray(row * f, (row + count) * f);
          if (!batchInputs.has(row)) batchInputs.set(row, compactInputs(rows, count, f));
          const compact = batchInputs.get(row);
          let p: tf.Tensor2D;
          if (compact !== undefined && skippedRowsFinite(values, compact.skipped, units)) {
            const kept = compact.kept.length;
            if (kept === 0) continue; // every input zero: P is zero (out's +0s)
            // One buffer for every kernel of this scoring: tensor2d copies it.
            if (gatherBuffer.length < kept * units) gatherBuffer = new Float32Array(kept * units);
            const gathered = gatherBuffer.subarray(0, kept * units);
            for (let i = 0; i < kept; i++) {
              const at = compact.kept[i] * units;
              gathered.set(values.subarray(at, at + units), i * units);
            }
            p = tf.matMul(tf.tensor2d(compact.x, [count, kept]), tf.tensor2d(gathered, [kept, units]));
          } else {
            k ??= tf.tensor2d(values, kernelShape);
            p = linear.project(tf.tensor(rows, [count, ...data.featureShape]), k);
          }
          out.set(p.dataSync() as Float32Array, (row - start) * units);
        }
      });
      return out;
    };
    const project = (values: Float32Array): Float32Array => {
      const hit = memo.get(values);
      if (hit !== undefined) return hit;
      if (values.length !== kernelSize) throw new Error(`${linear.kernel} must have ${kernelSize} values`);
      let out: Float32Array;
      if (from === undefined) out = product(values, 0, n);
      else {
        out = new Float32Array(n * units);
        out.set(product(values, 0, from));
        out.set(
          share.projection(values, () => product(values, from, n)),
          from * units,
        );
      }
      memo.set(values, out);
      return out;
    };
    const scoreProjected = (p: Float32Array, w: Weights, shared: boolean): ClassScores => {
      if (p.length !== n * units) throw new Error(`a projection must have ${n * units} values`);
      const scratch = this.#scratchModel();
      const input = scratch.linearInput as LinearInput;
      setWeights(scratch, w, keep);
      const rows = (start: number, end: number): RowsScores =>
        this.#scoreRows(data, headOf(scratch), scratch, start, end, (row, count) =>
          input.featuresFrom(tf.tensor2d(p.subarray(row * units, (row + count) * units), [count, units])),
        );
      if (from === undefined) return this.#classScoresOf(data, [rows(0, n)]);
      const publicRows = shared ? share.scores(w, () => rows(from, n)) : rows(from, n);
      return this.#classScoresOf(data, [rows(0, from), publicRows]);
    };
    return {
      linear: {
        kernel: linear.kernel,
        project,
        // A mix's w may hold a candidate's arrays beside a mixed product: never shared.
        evaluateProjected: (p, w) => scoreProjected(p, w, false),
      },
      scoreShared: (p, w) => scoreProjected(p, w, true),
    };
  }

  /**
   * What a merge context needs to score models on `data` (one per merge): `evaluate` for
   * complete weights and, when the model allows it, `linearInput` (linearEvaluator); then
   * `evaluate` runs through the same split (same scores as evaluateWeights without `split`),
   * so the first-layer products it computes are reused when a rule scores mixes of those
   * models. With `split` (public-rows.ts), the public rows' results of complete weights
   * may come from `split.share`.
   */
  mergeScoring(
    data: Dataset,
    split?: ScoringSplit,
  ): { evaluate: (w: Weights) => ClassScores; linearInput?: LinearInputEvaluator } {
    const scoring = this.#linearScoring(data, split);
    if (scoring === undefined) return { evaluate: (w) => this.evaluateWeights(w, data) };
    const { linear, scoreShared } = scoring;
    return {
      evaluate: (w) => {
        const kernel = w.find((l) => l.name === linear.kernel);
        if (kernel === undefined) throw new Error(`weights have no ${linear.kernel}`);
        return scoreShared(linear.project(kernel.values), w);
      },
      linearInput: linear,
    };
  }

  #scratchModel(): Model {
    this.#scratch ??= buildModel(this.model.spec, this.model.inputShape, this.model.numClasses, 0);
    return this.#scratch;
  }

  #evaluateWith(
    data: Dataset,
    head: Head,
    model: Model = this.model,
    featuresOf?: (from: number, count: number) => tf.Tensor2D,
  ): ClassScores {
    return this.#classScoresOf(data, [this.#scoreRows(data, head, model, 0, data.y.length, featuresOf)]);
  }

  /** ClassScores of `data` from the scores of consecutive runs of its rows, in order. */
  #classScoresOf(data: Dataset, parts: readonly RowsScores[]): ClassScores {
    const n = data.y.length;
    const K = this.model.numClasses;
    const predicted = new Uint8Array(n);
    const sampleLoss = new Float32Array(n);
    const sampleLogits = new Float32Array(n * K);
    let lossSum = 0;
    let at = 0;
    for (const part of parts) {
      predicted.set(part.predicted, at);
      sampleLoss.set(part.sampleLoss, at);
      sampleLogits.set(part.sampleLogits, at * K);
      for (const l of part.batchLosses) lossSum += l;
      at += part.predicted.length;
    }
    if (at !== n) throw new Error(`scores of ${at} rows for ${n} samples`);
    return {
      ...classScores(confusionMatrix(data.y, predicted, K), K, n > 0 ? lossSum / n : Number.NaN),
      sampleLoss,
      sampleLogits,
    };
  }

  /** Scores of rows [start, end) of `data`, in batches of evalBatchSize from `start`. */
  #scoreRows(
    data: Dataset,
    head: Head,
    model: Model,
    start: number,
    end: number,
    featuresOf?: (from: number, count: number) => tf.Tensor2D,
  ): RowsScores {
    const rows = end - start;
    const K = this.model.numClasses;
    const predicted = new Int32Array(rows);
    const sampleLoss = new Float32Array(rows);
    const sampleLogits = new Float32Array(rows * K);
    const batchLosses: number[] = [];
    const features = this.trainable === 'head' ? this.#features(data) : undefined;
    const f = datasetFeatureSize(data);
    for (let from = start; from < end; from += this.evalBatchSize) {
      const count = Math.min(this.evalBatchSize, end - from);
      const at = from - start;
      // The tidy returns nothing: tfjs walks a returned container element by element looking
      // for tensors, and for typed arrays that walk cost more than the forward pass.
      tf.tidy(() => {
        const feats = featuresOf
          ? featuresOf(from, count)
          : features
            ? features.slice([from, 0], [count, this.model.featureSize])
            : model.features(tf.tensor(data.x.subarray(from * f, (from + count) * f), [count, ...data.featureShape]));
        const logits = applyHead(feats, head);
        const y = tf.oneHot(tf.tensor1d(Int32Array.from(data.y.subarray(from, from + count)), 'int32'), K);
        // Per-sample losses (Reduction.NONE) and their sum: the same sum Reduction.SUM takes.
        const perSample = tf.losses.softmaxCrossEntropy(y, logits, undefined, undefined, tf.Reduction.NONE);
        predicted.set(logits.argMax(1).dataSync() as Int32Array, at);
        batchLosses.push(perSample.sum().dataSync()[0]);
        sampleLoss.set(perSample.dataSync() as Float32Array, at);
        sampleLogits.set(logits.dataSync() as Float32Array, at * K);
      });
    }
    return { predicted, batchLosses, sampleLoss, sampleLogits };
  }

  /** Backbone features of a dataset, computed once while the backbone is unchanged. */
  #features(data: Dataset): tf.Tensor2D {
    const cached = this.#featureCache.get(data);
    if (cached) return cached;
    const n = data.y.length;
    const f = datasetFeatureSize(data);
    const parts: tf.Tensor2D[] = [];
    for (let from = 0; from < n; from += this.evalBatchSize) {
      const count = Math.min(this.evalBatchSize, n - from);
      parts.push(
        tf.tidy(() =>
          this.model.features(tf.tensor(data.x.subarray(from * f, (from + count) * f), [count, ...data.featureShape])),
        ),
      );
    }
    const all = parts.length === 1 ? parts[0] : tf.concat(parts, 0);
    if (parts.length > 1) for (const p of parts) p.dispose();
    const kept = tf.keep(all);
    this.#featureCache.set(data, kept);
    this.#cachedFeatures.push(kept);
    return kept;
  }

  #clearFeatures(): void {
    for (const t of this.#cachedFeatures) t.dispose();
    this.#cachedFeatures = [];
    this.#featureCache = new WeakMap();
  }

  /** Forgets optimizer momentum. */
  resetOptimizer(): void {
    this.#sgd.reset();
  }

  /** This trainer's state: arrays of every layer and of the momentum, and the batch-order generator. */
  exportState(): TrainerState {
    return {
      // dataSync copies out of the wasm heap; on the cpu backend it is the tensor's own
      // (never written) array.
      weights: this.getWeights(),
      velocity: this.#sgd.velocity(this.#trainedVariables),
      batches: this.#rng,
    };
  }

  /** Takes on another participant's state (exportState of a Trainer built with the same options). */
  importState(state: TrainerState): void {
    this.setWeights(state.weights);
    this.#sgd.setVelocity(this.#trainedVariables, state.velocity);
    this.#rng = state.batches;
  }

  /** Frees the trainer's tensors and its model. */
  release(): void {
    this.dispose();
    this.model.dispose();
  }

  dispose(): void {
    this.#clearFeatures();
    this.#sgd.dispose();
    this.#scratch?.dispose();
    this.#scratch = undefined;
  }
}
