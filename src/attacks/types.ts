/**
 * Byzantine behaviours for simulations and tests. Two kinds: data attacks change the
 * attacker's training labels; model attacks change the model it sends.
 * Colluding attackers share one output: ALIE and IPM are deterministic functions of the
 * honest models, so every colluder computes (and sends) the same malicious model;
 * randomised attacks collude by passing the same forked rng. Attacks marked `perColluder`
 * are the exception: every colluder crafts its own model (own training, own rng).
 */
import type { Rng } from '../data/rng.ts';
import type { OutputLayer } from '../merge/types.ts';
import type { Weights } from '../model/weights.ts';

/**
 * What an attacker that knows the task's public validation set can do with it: score a
 * model and train a model further on it. Runners build it from the attacker's trainer.
 */
export interface PublicSetAccess {
  /** Per-class F1 of `model` on the public set (length = classes). */
  readonly f1: (model: Weights) => ArrayLike<number>;
  /** `model` after `steps` more SGD steps on the public set (a new Weights). */
  readonly fineTune: (model: Weights, steps: number) => Weights;
}

export interface AttackInput {
  /** The attacker's honestly trained model this round (trained on flipped labels if the attack says so). */
  readonly own: Weights;
  /** The model before this round's training (last merged / global), for update-based attacks. */
  readonly reference?: Weights;
  /** Honest models of this round (omniscient attacks: ALIE, IPM). */
  readonly honest: readonly Weights[];
  /** Needed by Bristle's output-layer noise. */
  readonly outputLayer?: OutputLayer;
  readonly rng: Rng;
  /**
   * Per input feature (flattened), 1 when that feature is 0 in every training sample of
   * the attacker (`deadInputMask` in dead-input-blowup.ts), else 0. Needed by
   * `dead-input-blowup` only.
   */
  readonly deadInputs?: Uint8Array;
  /** This colluder's index among the attackers, from 0 (attacks marked `perColluder`). */
  readonly colluder?: number;
  /** The task's public validation set, for attackers that know it (`public-set`). */
  readonly publicSet?: PublicSetAccess;
}

export type ModelAttack = (input: AttackInput) => Weights;

export type Attack =
  | {
      readonly kind: 'labels';
      readonly name: string;
      readonly flip: (labels: Uint8Array, numClasses: number) => Uint8Array;
    }
  | {
      readonly kind: 'model';
      readonly name: string;
      readonly craft: ModelAttack;
      /**
       * Every colluder calls `craft` itself, on its own trained model and with its own rng
       * (and `colluder` set), and sends its own result. Absent: one model for all.
       */
      readonly perColluder?: boolean;
      /** Labels the attacker trains on before crafting (data poisoning + crafting); absent = its true labels. */
      readonly trainLabels?: (labels: Uint8Array, numClasses: number) => Uint8Array;
    };

export function requireReference(attack: string, input: AttackInput): Weights {
  if (input.reference === undefined) throw new RangeError(`${attack}: needs input.reference (the pre-training model)`);
  return input.reference;
}

export function requireHonest(attack: string, input: AttackInput): readonly Weights[] {
  if (input.honest.length === 0) throw new RangeError(`${attack}: needs at least one honest model`);
  return input.honest;
}

/**
 * The labels an attacker trains on: flipped for label attacks and for model attacks that
 * poison their training data first, else the true ones (the same array).
 */
export function trainingLabels(attack: Attack, labels: Uint8Array, numClasses: number): Uint8Array {
  if (attack.kind === 'labels') return attack.flip(labels, numClasses);
  return attack.trainLabels ? attack.trainLabels(labels, numClasses) : labels;
}
