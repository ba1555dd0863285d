/**
 * The one way a participant of a task is built, in every front end (the daemon, the web
 * page, `meshfl simulate`, library users): the task's model from its seed, a Trainer with
 * the task's batch size and learning rate, the task's merge strategy, and a Peer of the
 * task. Front ends add only what is theirs: the gossip, the data, the seed of this
 * peer's randomness, and tuning.
 *
 * @example
 * ```ts
 * const task = parseTaskSpec({ taskId: 'digits', dataset: 'synthetic', model: { kind: 'mlp', hidden: [64] } })
 * const peer = await createPeer(task, { gossip: bus.join('a'), data, seed: 1 })
 * await peer.start()
 * await peer.run(10)
 * ```
 */
import { createStrategy, type StrategySpec } from '../merge/registry.ts';
import type { Strategy } from '../merge/types.ts';
import { buildModel, getWeights, setWeights, weightsLayout } from '../model/model.ts';
import { prepareModel } from '../model/tfjs-model.ts';
import type { Weights } from '../model/weights.ts';
import type { Gossip } from '../net/gossip.ts';
import { type BackendChoice, type BackendOptions, initBackend } from '../train/backend.ts';
import { ModelPool } from '../train/model-pool.ts';
import type { SgdOptions } from '../train/sgd.ts';
import { type StatefulTrainer, type Trainable, Trainer, type TrainerOptions } from '../train/trainer.ts';
import { type LocalTraining, Peer, type PeerData, type PeerOptions } from './peer.ts';
import { dataProblem, type TaskSpec } from './task.ts';

/** Trainer settings a device chooses beyond the task's batch size and learning rate. */
export interface TrainerTuning {
  /** SGD momentum. Default 0.9. */
  readonly momentum?: SgdOptions['momentum'];
  /** Which layers are trained and exchanged. Default "all"; "head" needs a pretrained backbone in `weights`. */
  readonly trainable?: Trainable;
  /** Batch size for evaluation. Default 512. */
  readonly evalBatchSize?: number;
}

/** Where local training runs, given the Trainer createPeer built and the options that built it. */
export type TrainingFactory = (trainer: Trainer, options: TrainerOptions) => LocalTraining | Promise<LocalTraining>;

/** The same for a peer on `models`: its trainer holds its state as arrays. */
export type StatefulTrainingFactory = (
  trainer: StatefulTrainer,
  options: TrainerOptions,
) => LocalTraining | Promise<LocalTraining>;

export interface CreatePeerOptions extends Omit<PeerOptions, 'task' | 'trainer' | 'training' | 'strategy'> {
  /** How this peer talks to the others: `bus.join(id)` or `await createLibp2pGossip(node)`. */
  readonly gossip: Gossip;
  /** This peer's local data (see peerDataFor); its samples must fit the task (dataProblem). */
  readonly data: PeerData;
  /** Seeds this peer's batch order and merge randomness: give each peer its own. Default 0. */
  readonly seed?: number;
  /** Local training elsewhere (e.g. a worker pool); default the Trainer itself. Not with `models`. */
  readonly training?: TrainingFactory;
  /** With `models`: local training elsewhere (a worker pool); default the pool's model. */
  readonly modelsTraining?: StatefulTrainingFactory;
  /** Merge by this rule instead of the task's: a name, `{ name, options }`, or a Strategy function. */
  readonly strategy?: StrategySpec | Strategy;
  readonly trainer?: TrainerTuning;
  /**
   * Layers to start from instead of the task's initial model, by name: a checkpoint (every
   * layer) or a pretrained backbone (every layer but the head). Each must fit the model.
   */
  readonly weights?: Weights;
  /**
   * tfjs backend to initialise first ("auto" = wasm, falling back to cpu), or `false` to
   * leave the backend as the caller set it up. Default "auto".
   */
  readonly backend?: BackendChoice | false;
  /** Backend options, e.g. `wasmPaths` in browsers. */
  readonly backendOptions?: BackendOptions;
  /**
   * Train and evaluate on this process's shared models (createModelPool) instead of a model
   * of its own: between uses the peer holds its state as arrays (simulations of many peers).
   * Its tuning and starting weights are the pool's. With `modelsTraining` it trains there
   * (on worker threads) and evaluates on the pool's model.
   */
  readonly models?: ModelPool;
}

/** A Peer whose Trainer is its own (createPeer without `models`). */
export type ResidentPeer = Peer & { readonly trainer: Trainer };

/** Defaults of createPeer's own options (the Peer's are PEER_DEFAULTS). */
export const CREATE_PEER_DEFAULTS = { backend: 'auto', seed: 0 } as const;

export interface TaskTrainerInit {
  /** Seed of the batch order. */
  readonly seed: number;
  readonly tuning?: TrainerTuning;
  readonly weights?: Weights;
}

/** The options a task's Trainer is built with (also what a training worker needs to rebuild it). */
export function taskTrainerOptions(task: TaskSpec, init: TaskTrainerInit): TrainerOptions {
  const tuning = init.tuning ?? {};
  return {
    batchSize: task.batchSize,
    seed: init.seed,
    optimizer: {
      learningRate: task.learningRate,
      ...(tuning.momentum === undefined ? {} : { momentum: tuning.momentum }),
    },
    ...(tuning.trainable === undefined ? {} : { trainable: tuning.trainable }),
    ...(tuning.evalBatchSize === undefined ? {} : { evalBatchSize: tuning.evalBatchSize }),
  };
}

/**
 * The task's model (from its seed, with `weights` laid over it) in a Trainer. Needs an
 * initialised tfjs backend, and a tfjs model prepared (`await prepareModel(task.model)`).
 * createPeer builds its trainer with it; tests and tools that need the task's model without
 * a Peer use it too, so all start from the same model.
 */
export function createTaskTrainer(task: TaskSpec, init: TaskTrainerInit): Trainer {
  const model = buildModel(task.model, task.inputShape, task.classes, task.modelSeed);
  try {
    if (init.weights !== undefined) overlay(model, init.weights);
    return new Trainer(model, taskTrainerOptions(task, init));
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/**
 * The task model's layers (names, shapes, zero values): what checkpoints and backbones must
 * fit. A tfjs model must have been prepared (prepareModel) first.
 */
export function taskModelLayout(task: TaskSpec): Weights {
  const model = buildModel(task.model, task.inputShape, task.classes, task.modelSeed);
  try {
    return weightsLayout(model);
  } finally {
    model.dispose();
  }
}

/** What each pool was built for: a peer may use it only with the same task and tuning. */
const poolSettings = new WeakMap<ModelPool, string>();

function settingsKey(task: TaskSpec, tuning: TrainerTuning | undefined): string {
  return JSON.stringify({
    task: task.taskId,
    options: taskTrainerOptions(task, { seed: 0, ...(tuning ? { tuning } : {}) }),
  });
}

/**
 * The model shared by the Peers of `task` in this process (createPeer's `models`). Needs an
 * initialised tfjs backend; release with `close()` after the peers stopped.
 */
export async function createModelPool(
  task: TaskSpec,
  init: { readonly tuning?: TrainerTuning; readonly weights?: Weights } = {},
): Promise<ModelPool> {
  await prepareModel(task.model);
  const build = (): Trainer =>
    createTaskTrainer(task, {
      seed: 0,
      ...(init.tuning ? { tuning: init.tuning } : {}),
      ...(init.weights ? { weights: init.weights } : {}),
    });
  const pool = new ModelPool({ build });
  poolSettings.set(pool, settingsKey(task, init.tuning));
  return pool;
}

function overlay(model: ReturnType<typeof buildModel>, weights: Weights): void {
  const own = getWeights(model);
  const names = new Set(own.map((l) => l.name));
  const unknown = weights.find((l) => !names.has(l.name));
  if (unknown !== undefined) throw new RangeError(`weights: layer ${unknown.name} is not in the task's model`);
  const byName = new Map(weights.map((l) => [l.name, l]));
  // setWeights checks every shape against the model and names the misfit.
  setWeights(
    model,
    own.map((l) => byName.get(l.name) ?? l),
  );
}

/**
 * Builds a ready-to-start Peer of `task`: initialises the tfjs backend, builds the task's
 * model and Trainer, and wraps them with the strategy in a Peer. Throws a RangeError when
 * the data does not fit the task. Call `await peer.start()`, then `peer.run(rounds)`;
 * `peer.stop()` when done, then `peer.trainer.release()` (its tensors and model).
 */
export async function createPeer(
  task: TaskSpec,
  options: CreatePeerOptions & { readonly models?: undefined },
): Promise<ResidentPeer>;
export async function createPeer(task: TaskSpec, options: CreatePeerOptions): Promise<Peer>;
export async function createPeer(task: TaskSpec, options: CreatePeerOptions): Promise<Peer> {
  const {
    training,
    modelsTraining,
    strategy = task.strategy,
    trainer: tuning,
    weights,
    backend = CREATE_PEER_DEFAULTS.backend,
    backendOptions,
    models,
    ...peerOptions
  } = options;
  const seed = options.seed ?? CREATE_PEER_DEFAULTS.seed;
  const problem = dataProblem(options.data.train, task);
  if (problem !== undefined) throw new RangeError(`training data: ${problem}`);
  if (backend !== false) await initBackend(backend, backendOptions);
  await prepareModel(task.model);
  const resolvedStrategy = typeof strategy === 'function' ? strategy : createStrategy(strategy);
  if (modelsTraining !== undefined && models === undefined)
    throw new RangeError('modelsTraining: only with models (else training)');
  if (models !== undefined) {
    if (training !== undefined) throw new RangeError('models: a pooled peer trains on the pool or by modelsTraining');
    if (weights !== undefined) throw new RangeError("models: the starting weights are the pool's (createModelPool)");
    if (poolSettings.get(models) !== settingsKey(task, tuning)) {
      throw new RangeError('models: the pool was built for another task or trainer tuning');
    }
    const trainer = models.trainer(seed);
    const options = taskTrainerOptions(task, { seed, ...(tuning ? { tuning } : {}) });
    return new Peer({
      ...peerOptions,
      seed,
      task,
      trainer,
      training: modelsTraining === undefined ? undefined : await modelsTraining(trainer, options),
      strategy: resolvedStrategy,
    });
  }
  const init = { seed, ...(tuning ? { tuning } : {}), ...(weights ? { weights } : {}) };
  const trainer = createTaskTrainer(task, init);
  try {
    return new Peer({
      ...peerOptions,
      seed,
      task,
      trainer,
      training: training === undefined ? undefined : await training(trainer, taskTrainerOptions(task, init)),
      strategy: resolvedStrategy,
    });
  } catch (err) {
    trainer.release();
    throw err;
  }
}
