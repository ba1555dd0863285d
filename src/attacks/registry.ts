/**
 * Attacks by name: createAttack('alie') or createAttack({ name: 'ipm', options: { eps: 0.5 } }).
 * Unknown names and bad options throw an OptionError listing what is accepted.
 */
import { OptionError } from '../config/options.ts';
import { adaptiveAlieAttack } from './adaptive-alie.ts';
import { alieAttack } from './alie.ts';
import { deadInputBlowupAttack } from './dead-input-blowup.ts';
import { freeRiderAttack } from './free-rider.ts';
import { gaussianModelAttack, gaussianNoiseAttack } from './gaussian.ts';
import { ipmAttack } from './ipm.ts';
import { labelFlipAttack } from './label-flip.ts';
import { outputNoiseAttack } from './output-noise.ts';
import { publicSetAttack } from './public-set.ts';
import { scalingAttack } from './scaling.ts';
import { signFlipAttack } from './sign-flip.ts';
import type { Attack } from './types.ts';

const FACTORIES: Readonly<Record<string, (options: never) => Attack>> = {
  'label-flip': labelFlipAttack,
  'sign-flip': signFlipAttack,
  'gaussian-noise': gaussianNoiseAttack,
  'gaussian-model': gaussianModelAttack,
  alie: alieAttack,
  ipm: ipmAttack,
  scaling: scalingAttack,
  'free-rider': freeRiderAttack,
  'output-noise': outputNoiseAttack,
  'dead-input-blowup': deadInputBlowupAttack,
  'adaptive-alie': adaptiveAlieAttack,
  'public-set': publicSetAttack,
};

export type AttackSpec = string | { readonly name: string; readonly options?: Record<string, unknown> };

export function attackNames(): string[] {
  return Object.keys(FACTORIES);
}

export function createAttack(spec: AttackSpec): Attack {
  const { name, options } = typeof spec === 'string' ? { name: spec, options: {} } : spec;
  if (typeof name !== 'string' || !Object.hasOwn(FACTORIES, name)) {
    throw new OptionError(`unknown attack ${JSON.stringify(name)} (known: ${attackNames().join(', ')})`);
  }
  return (FACTORIES[name] as (options: unknown) => Attack)(options ?? {});
}
