/**
 * Dead-input blow-up: huge finite values on the first-layer weights of input features that
 * are always zero in the attacker's training data (MNIST's border pixels), the rest of the
 * model honest. Accuracy cannot see it (those inputs are 0, so the weights never reach an
 * activation on in-distribution data) while the model's max |w| explodes; a merge that
 * averages it in carries the values into every honest model, and SGD never removes them
 * (their gradient is input * delta = 0). Found in practice (issue 13: 1,000 values of 3e38
 * from one peer reached two honest daemons' checkpoints); meshfl's attack, no paper.
 *
 * "First layer": the first layer of the model whose kernel is 2-D with one row per input
 * feature ([features, units], an MLP's dense0/kernel); the rows of dead features are set
 * to `value`. Needs `input.deadInputs` (deadInputMask of the attacker's training data).
 * Models without such a layer (CNNs, head-only exchange) are refused.
 */

import { type OptionsSpec, type Parsed, parseOptions } from '../config/options.ts';
import type { Dataset } from '../data/dataset.ts';
import type { Weights } from '../model/weights.ts';
import type { Attack } from './types.ts';

/** Largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

export const DEAD_INPUT_BLOWUP_SPEC = {
  value: {
    kind: 'number',
    default: 3e38,
    min: -FLOAT32_MAX,
    max: FLOAT32_MAX,
    doc: 'value written on the dead inputs first-layer weights (finite in float32)',
  },
} as const satisfies OptionsSpec;

export type DeadInputBlowupOptions = Parsed<typeof DEAD_INPUT_BLOWUP_SPEC>;

/** 1 for every input feature whose value is 0 in all samples of `data`, else 0. */
export function deadInputMask(data: Pick<Dataset, 'x' | 'featureShape'>): Uint8Array {
  const f = data.featureShape.reduce((a, b) => a * b, 1);
  const mask = new Uint8Array(f).fill(1);
  for (let o = 0; o < data.x.length; o += f) {
    for (let k = 0; k < f; k++) if (data.x[o + k] !== 0) mask[k] = 0;
  }
  return mask;
}

/** Index of the first layer shaped [features, units] for `features` inputs; -1 if none. */
export function firstInputLayer(w: Weights, features: number): number {
  return w.findIndex((l) => l.shape.length === 2 && l.shape[0] === features);
}

export function deadInputBlowupAttack(options: Partial<DeadInputBlowupOptions> = {}): Attack {
  const { value } = parseOptions('dead-input-blowup', DEAD_INPUT_BLOWUP_SPEC, options);
  return {
    kind: 'model',
    name: 'dead-input-blowup',
    craft: ({ own, deadInputs }) => {
      if (deadInputs === undefined) {
        throw new RangeError('dead-input-blowup: needs input.deadInputs (deadInputMask of the training data)');
      }
      const target = firstInputLayer(own, deadInputs.length);
      if (target < 0) {
        throw new RangeError(
          `dead-input-blowup: no exchanged layer shaped [${deadInputs.length}, units] (needs a full MLP's first kernel)`,
        );
      }
      return own.map((l, i) => {
        const values = l.values.slice();
        if (i === target) {
          const units = l.shape[1];
          deadInputs.forEach((dead, row) => {
            if (dead === 1) values.fill(value, row * units, (row + 1) * units);
          });
        }
        return { name: l.name, shape: [...l.shape], values };
      });
    },
  };
}
