/**
 * Bristle's output-layer noise attack.
 * Verbraeken, de Vos, Pouwelse 2021. https://arxiv.org/abs/2110.11006
 * The output layer (kernel, and bias if any) is replaced by uniform noise: values in
 * [-0.5, 0] or [0, 0.5]. meshfl: ALGORITHMS.md names the two halves without saying how
 * they are assigned; `half: "split"` (default) draws the first half of the class columns
 * from [-0.5, 0] and the rest from [0, 0.5]; "negative"/"positive" use one half throughout
 * (e.g. for two groups of attackers). Other layers are sent unchanged.
 */
import { type OptionsSpec, type Parsed, parseOptions } from '../config/options.ts';
import { mapLayers } from '../model/weights.ts';
import type { Attack } from './types.ts';

export const OUTPUT_NOISE_SPEC = {
  half: { kind: 'choice', default: 'split', values: ['split', 'negative', 'positive'], doc: 'which uniform half' },
  magnitude: { kind: 'number', default: 0.5, min: 0, doc: 'width of each half' },
} as const satisfies OptionsSpec;

export function outputNoiseAttack(options: Partial<Parsed<typeof OUTPUT_NOISE_SPEC>> = {}): Attack {
  const { half, magnitude } = parseOptions('output-noise', OUTPUT_NOISE_SPEC, options);
  return {
    kind: 'model',
    name: 'output-noise',
    craft: ({ own, outputLayer, rng }) => {
      if (outputLayer === undefined) throw new RangeError('output-noise: needs input.outputLayer');
      const targets = new Set([outputLayer.kernel, outputLayer.bias]);
      if (!own.some((l) => l.name === outputLayer.kernel)) {
        throw new RangeError(`output-noise: output layer "${outputLayer.kernel}" is not in the model`);
      }
      return mapLayers(own, (l) => {
        if (!targets.has(l.name)) return l.values.slice();
        const cols = l.shape[l.shape.length - 1] ?? 1;
        return l.values.map((_, k) => {
          const negative = half === 'negative' || (half === 'split' && k % cols < cols / 2);
          const u = rng.next() * magnitude;
          return negative ? -u : u;
        });
      });
    },
  };
}
