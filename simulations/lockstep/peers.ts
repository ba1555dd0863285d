/**
 * The peers of a lockstep run: one model + trainer each, its partition of the training
 * data and its validation split. Every peer starts from the same seeded model (common
 * initialisation) and draws its own batch order. There is no network and no Peer here:
 * the model and trainer come from the run's TaskSpec through createTaskTrainer, the same
 * construction createPeer uses.
 */
import { type Dataset, subset } from '../../src/data/dataset.ts';
import { partitionDataset } from '../../src/data/partition.ts';
import { withPublicValidation } from '../../src/data/public-validation.ts';
import { createRng, type Rng } from '../../src/data/rng.ts';
import { createTaskTrainer } from '../../src/peer/create-peer.ts';
import { parseTaskSpec, type TaskSpec } from '../../src/peer/task.ts';
import type { Trainer } from '../../src/train/trainer.ts';
import type { ResolvedConfig } from './config.ts';

export interface SimPeer {
  readonly index: number;
  /** Candidate id in merges. */
  readonly id: string;
  readonly byzantine: boolean;
  readonly trainer: Trainer;
  readonly train: Dataset;
  readonly validation: Dataset;
  readonly familiarClasses: readonly number[];
}

/**
 * The task of a lockstep run: its model on its data set's samples, seeded by the run. The
 * strategy and codec are unused here (the runner merges full-precision models itself).
 */
export function lockstepTask(config: ResolvedConfig): TaskSpec {
  const { train } = config.dataset;
  return parseTaskSpec({
    taskId: 'lockstep',
    model: config.model,
    modelSeed: config.seed,
    codec: 'fp32',
    strategy: 'mean',
    batchSize: config.batchSize,
    learningRate: config.learningRate,
    ...('steps' in config.local ? { localSteps: config.local.steps } : {}),
    dataset: 'custom',
    inputShape: train.featureShape,
    classes: train.numClasses,
  });
}

/** Seeded choice of which peer indices attack (ascending). */
export function chooseAttackers(peers: number, count: number, seed: number): number[] {
  const order = createRng(seed)
    .fork('attackers')
    .shuffle(Array.from({ length: peers }, (_, i) => i));
  return order.slice(0, count).sort((a, b) => a - b);
}

/**
 * `perClass` samples of every class from `pool` (indices into `data`), seeded; fewer when
 * the pool holds fewer of a class.
 */
export function allClassValidation(data: Dataset, pool: ArrayLike<number>, perClass: number, rng: Rng): Dataset {
  const byClass = Array.from({ length: data.numClasses }, (): number[] => []);
  for (let k = 0; k < pool.length; k++) {
    const i = pool[k] as number;
    (byClass[data.y[i] as number] as number[]).push(i);
  }
  const chosen = byClass.flatMap((indices) => rng.shuffle(indices).slice(0, perClass));
  return subset(data, Uint32Array.from(chosen).sort());
}

/** A peer's merge validation and familiar classes, by the config's mergeValidation. */
function mergeValidationOf(
  config: ResolvedConfig,
  index: number,
  own: Dataset,
  ownFamiliar: readonly number[],
  validationPool: ArrayLike<number>,
  publicSet: Dataset | undefined,
): { validation: Dataset; familiarClasses: readonly number[] } {
  switch (config.mergeValidation) {
    case 'own-classes':
      return { validation: own, familiarClasses: ownFamiliar };
    case 'all-classes':
      return {
        validation: allClassValidation(
          config.dataset.test,
          validationPool,
          config.validationPerClass,
          createRng(config.seed).fork(`validation-${index}`),
        ),
        familiarClasses: Array.from({ length: config.dataset.train.numClasses }, (_, c) => c),
      };
    case 'public+own': {
      if (publicSet === undefined) throw new RangeError("lockstep: mergeValidation 'public+own' needs the public set");
      // Every class counts as familiar (the public set holds them all).
      return withPublicValidation(own, publicSet);
    }
    default: {
      const never: never = config.mergeValidation;
      throw new RangeError(`lockstep: unknown mergeValidation ${String(never)}`);
    }
  }
}

/**
 * `validationPool`: indices into the test split a peer may draw its validation from
 * (used with mergeValidation 'all-classes'); `publicSet`: the task's public validation set
 * (used with 'public+own').
 */
export function buildPeers(
  config: ResolvedConfig,
  attackers: readonly number[],
  validationPool: ArrayLike<number>,
  publicSet?: Dataset,
): SimPeer[] {
  const { train } = config.dataset;
  const parts = partitionDataset(train, config.partition, {
    peers: config.peers,
    seed: config.seed,
    validationPerClass: config.validationPerClass,
  });
  const byzantine = new Set(attackers);
  const task = lockstepTask(config);
  const peers: SimPeer[] = [];
  try {
    parts.forEach((part, index) => {
      const trainer = createTaskTrainer(task, {
        seed: createRng(config.seed)
          .fork(`batches-${index}`)
          .int(2 ** 31),
        tuning: { momentum: config.momentum, trainable: config.trainable },
      });
      peers.push({
        index,
        id: `peer-${index}`,
        byzantine: byzantine.has(index),
        trainer,
        train: subset(train, part.train),
        ...mergeValidationOf(
          config,
          index,
          subset(train, part.validation),
          part.familiarClasses,
          validationPool,
          publicSet,
        ),
      });
    });
  } catch (error) {
    disposePeers(peers);
    throw error;
  }
  return peers;
}

export function disposePeers(peers: readonly SimPeer[]): void {
  for (const p of peers) {
    p.trainer.dispose();
    p.trainer.model.dispose();
  }
}
