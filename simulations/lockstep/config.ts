/**
 * Configuration of a lockstep experiment: plain data, validated once before a run so the
 * round loop never sees a bad value. See ./index.ts for what a run does with it.
 */
import type { AttackSpec } from '../../src/attacks/registry.ts';
import type { TrainTest } from '../../src/data/dataset.ts';
import type { PartitionSpec } from '../../src/data/partition-spec.ts';
import type { StrategySpec } from '../../src/merge/registry.ts';
import type { ModelSpec } from '../../src/model/spec.ts';
import type { Trainable } from '../../src/train/trainer.ts';

/** Who hears whom: everyone, or a seeded random graph where every peer has about `degree` neighbours. */
export type TopologyKind = 'full' | 'random-regular';

export type MergeValidation = 'own-classes' | 'all-classes' | 'public+own';

export const MERGE_VALIDATIONS: readonly MergeValidation[] = ['own-classes', 'all-classes', 'public+own'];

export interface ByzantineConfig {
  /** Number of attackers; or give `fraction` of the peers (rounded to the nearest integer). */
  readonly count?: number;
  readonly fraction?: number;
  /** What the attackers do (ignored when there are none). */
  readonly attack: AttackSpec;
}

export interface LockstepConfig {
  /** Train split is partitioned among the peers; the test split is held out for accuracy. */
  readonly dataset: TrainTest;
  readonly model: ModelSpec;
  /** 'head': frozen backbone, only the output layer is trained and exchanged. Default 'all'. */
  readonly trainable?: Trainable;
  readonly peers: number;
  readonly partition: PartitionSpec;
  /** Validation samples per class a peer holds (Bristle: about 10). Default 10. */
  readonly validationPerClass?: number;
  /**
   * What a peer's merge validation split (MergeContext.evaluate) covers.
   * 'own-classes' (default): `validationPerClass` samples of each class it holds, cut from
   * its own share; familiar classes = the classes it trains on (ALGORITHMS.md §1).
   * 'all-classes': `validationPerClass` samples of every class, drawn per peer from the
   * test split outside the accuracy subset, and every class counts as familiar: what the
   * Bristle authors' SimulatedRunner does (it hands the integrator the full test iterator,
   * whose labels become the familiar classes).
   * 'public+own': the task's public validation set (`publicValidationPerClass` samples of
   * every class, drawn once from the test split outside the accuracy subset, the same for
   * every peer; src/data/public-validation.ts) plus the peer's own `validationPerClass`
   * samples per class it holds; every class counts as familiar. Attackers know the public
   * set. What `meshfl simulate` does by default (issue 13's V).
   */
  readonly mergeValidation?: MergeValidation;
  /** Samples per class of the public validation set ('public+own'). Default 10. */
  readonly publicValidationPerClass?: number;
  /** Attackers and their attack; none when absent. */
  readonly byzantine?: ByzantineConfig;
  readonly strategy: StrategySpec;
  readonly rounds: number;
  /** Local training per round: give localSteps or localEpochs (default 1 epoch). */
  readonly localSteps?: number;
  readonly localEpochs?: number;
  /** Default 32. */
  readonly batchSize?: number;
  /** SGD learning rate. Default 0.05. */
  readonly learningRate?: number;
  /** SGD momentum. Default 0.9 (the trainer's default). */
  readonly momentum?: number;
  /** Default 'full' when `degree` is absent, else 'random-regular'. */
  readonly topology?: TopologyKind;
  /** Neighbours per peer in a random-regular topology. */
  readonly degree?: number;
  readonly seed: number;
  /**
   * Accuracy is measured on this many test samples (a fixed seeded subset, the same for
   * every peer and round): scoring every peer on all 10k MNIST test images every round
   * would cost more than the training. Default 1000; 0 or more than the split = all.
   */
  readonly testSubset?: number;
}

export const LOCKSTEP_DEFAULTS = {
  trainable: 'all' as Trainable,
  validationPerClass: 10,
  mergeValidation: 'own-classes' as MergeValidation,
  publicValidationPerClass: 10,
  localEpochs: 1,
  batchSize: 32,
  learningRate: 0.05,
  momentum: 0.9,
  testSubset: 1000,
} as const;

/** A config with every default filled in and every field checked. */
export interface ResolvedConfig extends LockstepConfig {
  readonly trainable: Trainable;
  readonly validationPerClass: number;
  readonly mergeValidation: MergeValidation;
  readonly publicValidationPerClass: number;
  readonly attackers: number;
  readonly local: { readonly steps: number } | { readonly epochs: number };
  readonly batchSize: number;
  readonly learningRate: number;
  readonly momentum: number;
  readonly topology: TopologyKind;
  readonly testSubset: number;
}

function integerAtLeast(value: number, min: number, what: string): number {
  if (!(Number.isInteger(value) && value >= min))
    throw new RangeError(`lockstep: ${what} must be an integer >= ${min}, got ${value}`);
  return value;
}

function attackerCount(b: ByzantineConfig | undefined, peers: number): number {
  if (b === undefined) return 0;
  if ((b.count === undefined) === (b.fraction === undefined)) {
    throw new RangeError('lockstep: byzantine needs exactly one of count and fraction');
  }
  if (b.fraction !== undefined && !(b.fraction >= 0 && b.fraction < 1)) {
    throw new RangeError(`lockstep: byzantine.fraction must be in [0, 1), got ${b.fraction}`);
  }
  const count = b.count ?? Math.round((b.fraction as number) * peers);
  integerAtLeast(count, 0, 'byzantine.count');
  if (count >= peers) throw new RangeError(`lockstep: ${count} attackers leave no honest peer among ${peers}`);
  return count;
}

export function resolveConfig(c: LockstepConfig): ResolvedConfig {
  integerAtLeast(c.peers, 1, 'peers');
  integerAtLeast(c.rounds, 0, 'rounds');
  if (c.localSteps !== undefined && c.localEpochs !== undefined) {
    throw new RangeError('lockstep: give localSteps or localEpochs, not both');
  }
  const epochs = c.localEpochs ?? LOCKSTEP_DEFAULTS.localEpochs;
  if (!(epochs >= 0 && Number.isFinite(epochs)))
    throw new RangeError(`lockstep: localEpochs must be >= 0, got ${epochs}`);
  const local = c.localSteps !== undefined ? { steps: integerAtLeast(c.localSteps, 0, 'localSteps') } : { epochs };
  const topology = c.topology ?? (c.degree === undefined ? 'full' : 'random-regular');
  if (topology === 'random-regular') {
    if (c.degree === undefined) throw new RangeError('lockstep: a random-regular topology needs a degree');
    integerAtLeast(c.degree, 1, 'degree');
    if (c.degree >= c.peers) throw new RangeError(`lockstep: degree ${c.degree} needs more than ${c.peers} peers`);
  }
  const testSubset = c.testSubset ?? LOCKSTEP_DEFAULTS.testSubset;
  integerAtLeast(testSubset, 0, 'testSubset');
  const mergeValidation = c.mergeValidation ?? LOCKSTEP_DEFAULTS.mergeValidation;
  if (!MERGE_VALIDATIONS.includes(mergeValidation)) {
    throw new RangeError(
      `lockstep: mergeValidation must be one of ${MERGE_VALIDATIONS.join(', ')}, got ${String(mergeValidation)}`,
    );
  }
  return {
    ...c,
    trainable: c.trainable ?? LOCKSTEP_DEFAULTS.trainable,
    validationPerClass: c.validationPerClass ?? LOCKSTEP_DEFAULTS.validationPerClass,
    mergeValidation,
    publicValidationPerClass: integerAtLeast(
      c.publicValidationPerClass ?? LOCKSTEP_DEFAULTS.publicValidationPerClass,
      1,
      'publicValidationPerClass',
    ),
    attackers: attackerCount(c.byzantine, c.peers),
    local,
    batchSize: integerAtLeast(c.batchSize ?? LOCKSTEP_DEFAULTS.batchSize, 1, 'batchSize'),
    learningRate: c.learningRate ?? LOCKSTEP_DEFAULTS.learningRate,
    momentum: c.momentum ?? LOCKSTEP_DEFAULTS.momentum,
    topology,
    testSubset,
  };
}
