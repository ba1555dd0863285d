/**
 * Public-set attacker: knows the task's public validation set (the part of every honest
 * peer's merge validation V that is public, src/data/public-validation.ts) and uses it to
 * pass a certainty gate. It trains on flipped labels (label-flip.ts), then fine-tunes on
 * the public set `steps` SGD steps at a time until its certainty on the public set is at
 * least `ratio` times an honest model's, or `maxRounds` fine-tune rounds are spent, and
 * sends that model. meshfl's adaptive attack against Bristle's certainty used as a gate
 * (issue 13); the public set is small (10 samples per class), so the fine-tune moves the
 * model only as far as passing the gate needs, keeping most of the poisoning.
 *
 * Certainty (Bristle, Verbraeken et al. 2021): c = max(0, mean - std) of the model's top-3
 * per-class F1 (population std), every class familiar. "An honest model's certainty" =
 * the median certainty of this round's honest models on the public set (the attacker is
 * omniscient, like ALIE's). Every colluder trains and fine-tunes its own model
 * (`perColluder`).
 */
import { type OptionsSpec, type Parsed, parseOptions } from '../config/options.ts';
import type { Weights } from '../model/weights.ts';
import { flipLabels, LABEL_FLIP_SPEC } from './label-flip.ts';
import { type Attack, type PublicSetAccess, requireHonest } from './types.ts';

export const PUBLIC_SET_SPEC = {
  ...LABEL_FLIP_SPEC,
  ratio: {
    kind: 'number',
    default: 0.5,
    min: 0,
    doc: 'stop once certainty >= ratio * an honest model certainty (the gate to pass)',
  },
  steps: { kind: 'number', default: 5, min: 1, integer: true, doc: 'SGD steps on the public set per fine-tune round' },
  maxRounds: { kind: 'number', default: 20, min: 0, integer: true, doc: 'fine-tune rounds at most' },
  top: { kind: 'number', default: 3, min: 1, integer: true, doc: 'classes in the certainty (Bristle phi)' },
} as const satisfies OptionsSpec;

export type PublicSetOptions = Parsed<typeof PUBLIC_SET_SPEC>;

/** max(0, mean - std) of the `top` largest values of `f1` (population std); 0 when empty. */
export function topCertainty(f1: ArrayLike<number>, top = 3): number {
  const best = Array.from(f1)
    .sort((a, b) => b - a)
    .slice(0, top);
  if (best.length === 0) return 0;
  const mean = best.reduce((s, v) => s + v, 0) / best.length;
  const variance = best.reduce((s, v) => s + (v - mean) ** 2, 0) / best.length;
  return Math.max(0, mean - Math.sqrt(variance));
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Fine-tunes `model` on the public set until its certainty reaches `target` or `maxRounds`
 * rounds of `steps` steps are spent; returns the model and the rounds used.
 */
export function fineTuneUntil(
  model: Weights,
  access: PublicSetAccess,
  goal: { readonly target: number; readonly top: number; readonly steps: number; readonly maxRounds: number },
): { model: Weights; rounds: number } {
  const { target, top, steps, maxRounds } = goal;
  let current = model;
  let rounds = 0;
  while (rounds < maxRounds && topCertainty(access.f1(current), top) < target) {
    current = access.fineTune(current, steps);
    rounds++;
  }
  return { model: current, rounds };
}

export function publicSetAttack(options: Partial<PublicSetOptions> = {}): Attack {
  const o = parseOptions('public-set', PUBLIC_SET_SPEC, options);
  // Colluders of one round share the honest models (same array): score them once.
  const targets = new WeakMap<readonly Weights[], number>();
  return {
    kind: 'model',
    name: 'public-set',
    perColluder: true,
    trainLabels: (labels, numClasses) => flipLabels(labels, numClasses, o.mapping),
    craft: (input) => {
      const access = input.publicSet;
      if (access === undefined) {
        throw new RangeError('public-set: needs input.publicSet (run with a public validation set)');
      }
      const honest = requireHonest('public-set', input);
      let target = targets.get(honest);
      if (target === undefined) {
        target = o.ratio * median(honest.map((w) => topCertainty(access.f1(w), o.top)));
        targets.set(honest, target);
      }
      return fineTuneUntil(input.own, access, { target, top: o.top, steps: o.steps, maxRounds: o.maxRounds }).model;
    },
  };
}
