/**
 * Byzantine behaviours for simulations and tests. Two kinds: data attacks change the
 * attacker's training labels; model attacks change the model it sends.
 * Colluding attackers share one output: ALIE and IPM are deterministic functions of the
 * honest models, so every colluder computes (and sends) the same malicious model;
 * randomised attacks collude by passing the same forked rng.
 */
import type { Rng } from '../data/rng.ts';
import type { OutputLayer } from '../merge/types.ts';
import type { Weights } from '../model/weights.ts';

export interface AttackInput {
  /** The attacker's honestly trained model this round. */
  readonly own: Weights;
  /** The model before this round's training (last merged / global), for update-based attacks. */
  readonly reference?: Weights;
  /** Honest models of this round (omniscient attacks: ALIE, IPM). */
  readonly honest: readonly Weights[];
  /** Needed by Bristle's output-layer noise. */
  readonly outputLayer?: OutputLayer;
  readonly rng: Rng;
}

export type ModelAttack = (input: AttackInput) => Weights;

export type Attack =
  | {
      readonly kind: 'labels';
      readonly name: string;
      readonly flip: (labels: Uint8Array, numClasses: number) => Uint8Array;
    }
  | { readonly kind: 'model'; readonly name: string; readonly craft: ModelAttack };

export function requireReference(attack: string, input: AttackInput): Weights {
  if (input.reference === undefined) throw new RangeError(`${attack}: needs input.reference (the pre-training model)`);
  return input.reference;
}

export function requireHonest(attack: string, input: AttackInput): readonly Weights[] {
  if (input.honest.length === 0) throw new RangeError(`${attack}: needs at least one honest model`);
  return input.honest;
}
