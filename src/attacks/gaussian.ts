/**
 * Gaussian noise attacks (e.g. Xie, Koyejo, Gupta 2018 "Generalized Byzantine-tolerant SGD",
 * https://arxiv.org/abs/1802.10116; Li et al. RSA 2019).
 * `gaussian-noise`: x + N(0, sigma^2) per coordinate (small sigma, default 0.01).
 * `gaussian-model`: pure N(0, sigma^2) noise in place of the model (default sigma 1).
 */
import { type OptionsSpec, type Parsed, parseOptions } from '../config/options.ts';
import { mapLayers } from '../model/weights.ts';
import type { Attack } from './types.ts';

export const GAUSSIAN_NOISE_SPEC = {
  sigma: { kind: 'number', default: 0.01, min: 0, doc: 'noise standard deviation' },
} as const satisfies OptionsSpec;
export const GAUSSIAN_MODEL_SPEC = {
  sigma: { kind: 'number', default: 1, min: 0, doc: 'noise standard deviation' },
} as const satisfies OptionsSpec;

export function gaussianNoiseAttack(options: Partial<Parsed<typeof GAUSSIAN_NOISE_SPEC>> = {}): Attack {
  const { sigma } = parseOptions('gaussian-noise', GAUSSIAN_NOISE_SPEC, options);
  return {
    kind: 'model',
    name: 'gaussian-noise',
    craft: ({ own, rng }) => mapLayers(own, (l) => l.values.map((v) => v + sigma * rng.normal())),
  };
}

export function gaussianModelAttack(options: Partial<Parsed<typeof GAUSSIAN_MODEL_SPEC>> = {}): Attack {
  const { sigma } = parseOptions('gaussian-model', GAUSSIAN_MODEL_SPEC, options);
  return {
    kind: 'model',
    name: 'gaussian-model',
    craft: ({ own, rng }) => mapLayers(own, (l) => l.values.map(() => sigma * rng.normal())),
  };
}
