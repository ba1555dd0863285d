/**
 * IPM, inner-product manipulation.
 * Xie, Koyejo, Gupta, "Fall of Empires: Breaking Byzantine-tolerant SGD by Inner Product
 * Manipulation", UAI 2019. https://arxiv.org/abs/1903.03936
 *
 * mode "model": send -eps * mean(honest) (the paper's form on gradients, eps = 0.1).
 * mode "update": on model updates relative to the reference: ref - eps * mean(honest - ref).
 * Deterministic: all colluders send the same model.
 */
import { type OptionsSpec, type Parsed, parseOptions } from '../config/options.ts';
import { mapLayers } from '../model/weights.ts';
import { type Attack, requireHonest, requireReference } from './types.ts';

export const IPM_SPEC = {
  eps: { kind: 'number', default: 0.1, min: 0, doc: 'scale of the negated mean' },
  mode: { kind: 'choice', default: 'update', values: ['model', 'update'], doc: 'act on models or on updates' },
} as const satisfies OptionsSpec;

export type IpmOptions = Parsed<typeof IPM_SPEC>;

export function ipmAttack(options: Partial<IpmOptions> = {}): Attack {
  const { eps, mode } = parseOptions('ipm', IPM_SPEC, options);
  return {
    kind: 'model',
    name: 'ipm',
    craft: (input) => {
      const honest = requireHonest('ipm', input);
      const ref = mode === 'update' ? requireReference('ipm', input) : undefined;
      return mapLayers(input.own, (l, i) =>
        l.values.map((_, k) => {
          let mean = 0;
          for (const w of honest) mean += w[i]!.values[k];
          mean /= honest.length;
          if (ref === undefined) return -eps * mean;
          const r = ref[i]!.values[k];
          return r - eps * (mean - r);
        }),
      );
    },
  };
}
