/**
 * ALIE, "A Little Is Enough".
 * Baruch, Baruch, Goldberg, "A Little Is Enough: Circumventing Defenses For Distributed
 * Learning", NeurIPS 2019. https://arxiv.org/abs/1902.06156
 *
 * Omniscient and colluding: per coordinate mu - z * sigma over the honest models, with
 * s = floor(n/2 + 1) - f and z = Phi^-1((n - f - s) / (n - f)); n = total participants,
 * f = attackers (options). `z` may be given directly instead. sigma is the sample
 * standard deviation (n-1 denominator, as torch.std in the common implementations);
 * 0 with a single honest model. Every colluder sends the same model.
 */
import { type OptionsSpec, type Parsed, parseOptions } from '../config/options.ts';
import { mapLayers, type Weights } from '../model/weights.ts';
import { normalQuantile } from './normal-quantile.ts';
import { type Attack, requireHonest } from './types.ts';

export const ALIE_SPEC = {
  n: { kind: 'number', default: 10, min: 2, integer: true, doc: 'total participants' },
  f: { kind: 'number', default: 2, min: 1, integer: true, doc: 'attackers among them' },
  z: { kind: 'optional-number', doc: 'override the computed z' },
} as const satisfies OptionsSpec;

export type AlieOptions = Parsed<typeof ALIE_SPEC>;

/** z of ALIE for n participants of which f attack. */
export function alieZ(n: number, f: number): number {
  const s = Math.floor(n / 2 + 1) - f;
  const p = (n - f - s) / (n - f);
  if (!(f < n) || !(p > 0 && p < 1)) {
    throw new RangeError(`alie: n=${n}, f=${f} give probability ${p} outside (0, 1); give z explicitly`);
  }
  return normalQuantile(p);
}

/** Per coordinate mean - z * sigma over `honest` (sample std), laid out as `own`. */
export function alieModel(own: Weights, honest: readonly Weights[], z: number): Weights {
  const h = honest.length;
  return mapLayers(own, (l, i) => {
    const out = new Float32Array(l.values.length);
    for (let k = 0; k < out.length; k++) {
      let mean = 0;
      for (const w of honest) mean += w[i]!.values[k];
      mean /= h;
      let ss = 0;
      for (const w of honest) ss += (w[i]!.values[k] - mean) ** 2;
      const sigma = h > 1 ? Math.sqrt(ss / (h - 1)) : 0;
      out[k] = mean - z * sigma;
    }
    return out;
  });
}

export function alieAttack(options: Partial<AlieOptions> = {}): Attack {
  const o = parseOptions('alie', ALIE_SPEC, options);
  const z = o.z ?? alieZ(o.n, o.f);
  return {
    kind: 'model',
    name: 'alie',
    craft: (input) => alieModel(input.own, requireHonest('alie', input), z),
  };
}
