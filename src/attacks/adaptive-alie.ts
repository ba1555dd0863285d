/**
 * Adaptive ALIE: ALIE (./alie.ts, Baruch et al. 2019, https://arxiv.org/abs/1902.06156)
 * with independent Gaussian noise on every colluder's copy, so the colluders stop sending
 * identical models and a defence that groups near-identical candidates (pairwise distance
 * <= rho * m, FoolsGold-style, Fung et al. 2020, https://arxiv.org/abs/1808.04866) sees
 * them as separate voters. meshfl's adaptive attack against that grouping (issue 13).
 *
 *   x_k = alie(honest) + N(0, s^2 I),  s = margin * rho * m / sqrt(2 d)
 *
 * m = the median over the honest models of their L2 distance to the honest mean (what an
 * omniscient attacker can compute), d = the number of parameters. Two independent copies
 * then differ by about s * sqrt(2 d) = margin * rho * m, and each copy lies about
 * margin * rho * m / sqrt(2) from the ALIE model. A merging peer measures m over distances
 * to its own model, which for spread-out honest models is about sqrt(2) times this m: the
 * default margin 2 still clears rho * m there. z as in ALIE (from n and f, or given).
 * Every colluder crafts its own copy (`perColluder`): the noise comes from its own rng.
 */
import { type OptionsSpec, type Parsed, parseOptions } from '../config/options.ts';
import { mapLayers, parameterCount, type Weights } from '../model/weights.ts';
import { ALIE_SPEC, alieModel, alieZ } from './alie.ts';
import { type Attack, requireHonest } from './types.ts';

export const ADAPTIVE_ALIE_SPEC = {
  ...ALIE_SPEC,
  rho: { kind: 'number', default: 0.1, min: 0, doc: 'grouping radius to defeat, as a fraction of m' },
  margin: {
    kind: 'number',
    default: 2,
    min: 0,
    doc: 'pairwise colluder distance in units of rho * m (> 1 clears the grouping)',
  },
} as const satisfies OptionsSpec;

export type AdaptiveAlieOptions = Parsed<typeof ADAPTIVE_ALIE_SPEC>;

/** Median over `models` of their L2 distance to the models' element-wise mean. */
export function medianDistanceToMean(models: readonly Weights[]): number {
  const first = models[0];
  if (first === undefined) return 0;
  const squared = new Float64Array(models.length);
  first.forEach((l, i) => {
    for (let k = 0; k < l.values.length; k++) {
      let mean = 0;
      for (const m of models) mean += m[i]!.values[k];
      mean /= models.length;
      models.forEach((m, j) => {
        squared[j] = squared[j] + (m[i]!.values[k] - mean) ** 2;
      });
    }
  });
  const sorted = Array.from(squared, Math.sqrt).sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Noise standard deviation giving two independent copies of a d-parameter model a distance of `target`. */
export function pairwiseNoiseSigma(target: number, parameters: number): number {
  return parameters > 0 ? target / Math.sqrt(2 * parameters) : 0;
}

export function adaptiveAlieAttack(options: Partial<AdaptiveAlieOptions> = {}): Attack {
  const o = parseOptions('adaptive-alie', ADAPTIVE_ALIE_SPEC, options);
  const z = o.z ?? alieZ(o.n, o.f);
  // Colluders of one round share the honest models (same array): compute ALIE and m once.
  const perRound = new WeakMap<readonly Weights[], { alie: Weights; sigma: number }>();
  return {
    kind: 'model',
    name: 'adaptive-alie',
    perColluder: true,
    craft: (input) => {
      const honest = requireHonest('adaptive-alie', input);
      let base = perRound.get(honest);
      if (base === undefined) {
        const m = medianDistanceToMean(honest);
        base = {
          alie: alieModel(input.own, honest, z),
          sigma: pairwiseNoiseSigma(o.margin * o.rho * m, parameterCount(input.own)),
        };
        perRound.set(honest, base);
      }
      const { sigma } = base;
      return mapLayers(base.alie, (l) => l.values.map((v) => v + sigma * input.rng.normal()));
    },
  };
}
