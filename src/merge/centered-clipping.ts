/**
 * Centered clipping.
 * Karimireddy, He, Jaggi, "Learning from History for Byzantine Robust Optimization",
 * ICML 2021. https://arxiv.org/abs/2012.10333
 *
 * v <- v + (1/n) sum_k clip(x_k - v, tau), clip(z, tau) = z * min(1, tau / ||z||),
 * repeated L times. Decentralized form: v starts at own model (this peer's previous
 * aggregate in the paper's terms) and the n inputs are own plus the candidates (own's
 * term is 0 in the first iteration). The norm is taken over all merged layers together.
 * Defaults (meshfl): tau = 10 and L = 3; the paper's analysis allows L = 1 with a good
 * starting point, and tau is scale-dependent: set it near the typical honest distance.
 * `tau: "auto"` does that per merge: tau = the median of the candidates' distances to own
 * (fixed for the L iterations), so about half of the candidates are clipped in the first
 * iteration whatever the scale of the model. A fixed tau of 10 never clipped the MNIST MLP
 * runs of issue 13 (the rule then equals mean).
 */
import { guarded, inputsWithOwn } from './guarded.ts';
import { OptionError, type OptionsSpec, type Parsed, parseOptions } from './options.ts';
import type { Strategy } from './types.ts';
import { addScaledDifference, assemble, clipFactor, distanceSquaredTo, toFloat64 } from './vectors.ts';

/** The `tau` value that selects the adaptive radius. */
export const AUTO_TAU = 'auto';

export const CENTERED_CLIPPING_SPEC = {
  tau: {
    kind: 'number',
    default: 10,
    min: 0,
    minExclusive: true,
    doc: 'clipping radius, or "auto": the median of the candidates\' distances to own',
  },
  L: { kind: 'number', default: 3, min: 1, max: 100, integer: true, doc: 'clipping iterations' },
} as const satisfies OptionsSpec;

export type CenteredClippingOptions = Omit<Parsed<typeof CENTERED_CLIPPING_SPEC>, 'tau'> & {
  readonly tau: number | typeof AUTO_TAU;
};

/** Median of `xs` (mean of the middle two for an even count); 0 when empty. */
export function medianOf(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function parseCenteredClipping(options: unknown): CenteredClippingOptions {
  if (options !== null && typeof options === 'object' && !Array.isArray(options)) {
    const { tau, ...rest } = options as Record<string, unknown>;
    if (tau === AUTO_TAU) return { ...parseOptions('centered-clipping', CENTERED_CLIPPING_SPEC, rest), tau };
    if (typeof tau === 'string') {
      throw new OptionError(
        `centered-clipping: option "tau" must be a number > 0 or "auto", got ${JSON.stringify(tau)}`,
      );
    }
  }
  return parseOptions('centered-clipping', CENTERED_CLIPPING_SPEC, options);
}

export function centeredClippingStrategy(options: Partial<CenteredClippingOptions> = {}): Strategy {
  const { tau, L } = parseCenteredClipping(options);
  return guarded('centered-clipping', (own, candidates, _ctx, layers) => {
    const inputs = inputsWithOwn(own, candidates);
    const n = inputs.length;
    let v = toFloat64(own, layers);
    const radius =
      tau === AUTO_TAU ? medianOf(candidates.map((c) => Math.sqrt(distanceSquaredTo(c.weights, v, layers)))) : tau;
    let factors = new Float64Array(n).fill(1);
    for (let it = 0; it < L; it++) {
      const next = v.map((a) => a.slice());
      factors = new Float64Array(n);
      for (let k = 0; k < n; k++) {
        const f = clipFactor(Math.sqrt(distanceSquaredTo(inputs[k]!, v, layers)), radius);
        factors[k] = f;
        addScaledDifference(next, inputs[k]!, v, f / n, layers);
      }
      v = next;
    }
    const position = new Map(layers.map((i, p) => [i, p]));
    const merged = assemble(own, layers, (i) => Float32Array.from(v[position.get(i) as number]));
    // Report: each input's clip factor in the last iteration, normalised, as its share.
    const total = factors.reduce((s, x) => s + x, 0) || 1;
    return {
      merged,
      ownShare: factors[0] / total,
      used: candidates.map((c, j) => ({ peer: c.peer, seq: c.seq, share: factors[j + 1] / total })),
    };
  });
}
