/**
 * Free-rider: contributes nothing, re-sends the model it started the round with
 * (input.reference), optionally disguised with small Gaussian noise.
 * Lin, Du, Liu, "Free-riders in Federated Learning: Attacks and Defenses", 2019.
 * https://arxiv.org/abs/1911.12560
 */
import { type OptionsSpec, type Parsed, parseOptions } from '../config/options.ts';
import { cloneWeights, mapLayers } from '../model/weights.ts';
import { type Attack, requireReference } from './types.ts';

export const FREE_RIDER_SPEC = {
  sigma: { kind: 'number', default: 0, min: 0, doc: 'disguise noise standard deviation (0 = exact replay)' },
} as const satisfies OptionsSpec;

export function freeRiderAttack(options: Partial<Parsed<typeof FREE_RIDER_SPEC>> = {}): Attack {
  const { sigma } = parseOptions('free-rider', FREE_RIDER_SPEC, options);
  return {
    kind: 'model',
    name: 'free-rider',
    craft: (input) => {
      const ref = requireReference('free-rider', input);
      if (sigma === 0) return cloneWeights(ref);
      return mapLayers(ref, (l) => l.values.map((v) => v + sigma * input.rng.normal()));
    },
  };
}
