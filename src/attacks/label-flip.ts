/**
 * Label flipping (data poisoning).
 * Fang, Cao, Jia, Gong, "Local Model Poisoning Attacks to Byzantine-Robust Federated
 * Learning", USENIX Security 2020 (l -> K-1-l); Bristle's code uses l -> l+1 mod K.
 * https://arxiv.org/abs/1911.11815
 */
import { type OptionsSpec, type Parsed, parseOptions } from '../config/options.ts';
import type { Attack } from './types.ts';

export type LabelFlip = 'reverse' | 'shift';

export const LABEL_FLIP_SPEC = {
  mapping: {
    kind: 'choice',
    default: 'reverse',
    values: ['reverse', 'shift'],
    doc: 'reverse: K-1-l; shift: l+1 mod K',
  },
} as const satisfies OptionsSpec;

export type LabelFlipOptions = Parsed<typeof LABEL_FLIP_SPEC>;

/** A new label array: reverse maps l -> K-1-l, shift maps l -> (l+1) mod K. */
export function flipLabels(labels: Uint8Array, numClasses: number, mapping: LabelFlip): Uint8Array {
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 256) {
    throw new RangeError(`label flip: numClasses must be an integer in [1, 256], got ${numClasses}`);
  }
  return labels.map((l) => {
    if (l >= numClasses) throw new RangeError(`label flip: label ${l} >= numClasses ${numClasses}`);
    switch (mapping) {
      case 'reverse':
        return numClasses - 1 - l;
      case 'shift':
        return (l + 1) % numClasses;
      default: {
        const never: never = mapping;
        throw new Error(`unhandled label flip ${never}`);
      }
    }
  });
}

export function labelFlipAttack(options: Partial<LabelFlipOptions> = {}): Attack {
  const { mapping } = parseOptions('label-flip', LABEL_FLIP_SPEC, options);
  return { kind: 'labels', name: 'label-flip', flip: (labels, k) => flipLabels(labels, k, mapping) };
}
