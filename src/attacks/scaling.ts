/**
 * Model replacement / scaling.
 * Bagdasaryan et al., "How To Backdoor Federated Learning", AISTATS 2020.
 * https://arxiv.org/abs/1807.00459
 * Sends gamma (X - G) + G: X the attacker's model, G the reference (global / last merged).
 * gamma default 10 (the paper uses n / eta: participants over server learning rate).
 */
import { type OptionsSpec, type Parsed, parseOptions } from '../config/options.ts';
import { mapLayers } from '../model/weights.ts';
import { type Attack, requireReference } from './types.ts';

export const SCALING_SPEC = {
  gamma: { kind: 'number', default: 10, doc: 'scale of the update' },
} as const satisfies OptionsSpec;

export function scalingAttack(options: Partial<Parsed<typeof SCALING_SPEC>> = {}): Attack {
  const { gamma } = parseOptions('scaling', SCALING_SPEC, options);
  return {
    kind: 'model',
    name: 'scaling',
    craft: (input) => {
      const ref = requireReference('scaling', input);
      return mapLayers(input.own, (l, i) => {
        const g = ref[i]!.values;
        return l.values.map((x, k) => gamma * (x - g[k]) + g[k]);
      });
    },
  };
}
