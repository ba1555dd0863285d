/**
 * Sign flipping.
 * Damaskinos et al. / Karimireddy, He, Jaggi 2021 ("bit flipping") https://arxiv.org/abs/2012.10333
 * mode "model": send -x. mode "update": send the negated update, ref - (x - ref).
 */
import { type OptionsSpec, type Parsed, parseOptions } from '../config/options.ts';
import { mapLayers } from '../model/weights.ts';
import { type Attack, requireReference } from './types.ts';

export const SIGN_FLIP_SPEC = {
  mode: { kind: 'choice', default: 'update', values: ['model', 'update'], doc: 'negate the model or the update' },
} as const satisfies OptionsSpec;

export type SignFlipOptions = Parsed<typeof SIGN_FLIP_SPEC>;

export function signFlipAttack(options: Partial<SignFlipOptions> = {}): Attack {
  const { mode } = parseOptions('sign-flip', SIGN_FLIP_SPEC, options);
  return {
    kind: 'model',
    name: 'sign-flip',
    craft: (input) => {
      if (mode === 'model') return mapLayers(input.own, (l) => l.values.map((v) => -v));
      const ref = requireReference('sign-flip', input);
      return mapLayers(input.own, (l, i) => {
        const r = ref[i]!.values;
        return l.values.map((v, k) => 2 * r[k] - v);
      });
    },
  };
}
