/**
 * The attacks of a lockstep comparison (compare.ts) by name: issue 13's measurement set,
 * each a registry attack with fixed options (ALGORITHMS.md, "Attacks"). Any other attack
 * registry name is accepted too, with its default options.
 */
import { type AttackSpec, attackNames } from '../../src/attacks/registry.ts';

/** The comparison's name for "no attackers". */
export const NO_ATTACK = 'none';

export const COMPARE_ATTACKS: Readonly<Record<string, AttackSpec>> = {
  /** z from the run's n and f (the paper's formula) unless a z override is given. */
  alie: 'alie',
  'alie-z1': { name: 'alie', options: { z: 1 } },
  ipm: { name: 'ipm', options: { eps: 0.1 } },
  'ipm-eps2': { name: 'ipm', options: { eps: 2 } },
  /** reference - (own - reference): the negated update. */
  'sign-flip': { name: 'sign-flip', options: { mode: 'update' } },
  /** -own: the negated model. */
  'sign-flip-model': { name: 'sign-flip', options: { mode: 'model' } },
  'label-flip': 'label-flip',
  /** l -> l + 1 mod K: no two flippers undo each other (reverse maps a -> b and b -> a). */
  'label-flip-shift': { name: 'label-flip', options: { mapping: 'shift' } },
  gaussian: 'gaussian-noise',
  'scaling-10': { name: 'scaling', options: { gamma: 10 } },
  'scaling-1e3': { name: 'scaling', options: { gamma: 1e3 } },
  'free-rider': 'free-rider',
  'dead-input-blowup': 'dead-input-blowup',
  /** z like alie. */
  'adaptive-alie': 'adaptive-alie',
  'public-set': 'public-set',
};

/** Every name a comparison accepts, the default set first. */
export function compareAttackNames(): string[] {
  return [NO_ATTACK, ...Object.keys(COMPARE_ATTACKS), ...attackNames().filter((n) => !(n in COMPARE_ATTACKS))];
}

/**
 * The attack spec of a comparison name (undefined for "none"); `alieZ` overrides z of
 * the ALIE attacks that do not fix it (alie, adaptive-alie; not alie-z1). Throws a
 * RangeError for an unknown name.
 */
export function compareAttackSpec(name: string, alieZ?: number): AttackSpec | undefined {
  if (name === NO_ATTACK) return undefined;
  if (!Object.hasOwn(COMPARE_ATTACKS, name) && !attackNames().includes(name)) {
    throw new RangeError(`unknown attack "${name}" (known: ${compareAttackNames().join(', ')})`);
  }
  const spec = COMPARE_ATTACKS[name] ?? name;
  const { name: attack, options = {} } = typeof spec === 'string' ? { name: spec } : spec;
  const takesZ = (attack === 'alie' || attack === 'adaptive-alie') && !('z' in options);
  return { name: attack, options: alieZ !== undefined && takesZ ? { ...options, z: alieZ } : { ...options } };
}
