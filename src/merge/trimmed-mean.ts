/**
 * Coordinate-wise trimmed mean (Bristle's "Bridge" baseline).
 * Yin, Chen, Ramchandran, Bartlett, ICML 2018. https://arxiv.org/abs/1803.01498
 * Decentralized use: Yang and Bajwa, "ByRDiE/BRIDGE", 2019. https://arxiv.org/abs/1908.08098
 *
 * Per coordinate, drop the b largest and b smallest of the n = 1 + candidates inputs (own
 * included) and average the rest. b = option `b` if given, else floor(trim * n) with
 * `trim` default 0.2. b is capped at floor((n - 1) / 2) so at least one value remains
 * (meshfl: capping beats failing a merge when few neighbours answered).
 */

import { coordinateStatistic } from './coordinate.ts';
import { equalShares, guarded, inputsWithOwn } from './guarded.ts';
import { type OptionsSpec, type Parsed, parseOptions } from './options.ts';
import type { Strategy } from './types.ts';
import { assemble } from './vectors.ts';

export const TRIMMED_MEAN_SPEC = {
  trim: { kind: 'number', default: 0.2, min: 0, max: 0.5, minExclusive: false, doc: 'fraction trimmed per side' },
  b: { kind: 'optional-number', min: 0, integer: true, doc: 'values trimmed per side (overrides trim)' },
} as const satisfies OptionsSpec;

export type TrimmedMeanOptions = Parsed<typeof TRIMMED_MEAN_SPEC>;

export function trimCount(n: number, options: TrimmedMeanOptions): number {
  const b = options.b ?? Math.floor(options.trim * n);
  return Math.min(b, Math.floor((n - 1) / 2));
}

export function trimmedMeanStrategy(options: Partial<TrimmedMeanOptions> = {}): Strategy {
  const parsed = parseOptions('trimmed-mean', TRIMMED_MEAN_SPEC, options);
  return guarded('trimmed-mean', (own, candidates, _ctx, layers) => {
    const inputs = inputsWithOwn(own, candidates);
    const n = inputs.length;
    const b = trimCount(n, parsed);
    const merged = assemble(own, layers, (i) =>
      coordinateStatistic(inputs, i, (sorted) => {
        let s = 0;
        for (let k = b; k < n - b; k++) s += sorted[k];
        return s / (n - 2 * b);
      }),
    );
    return { merged, ...equalShares(candidates) };
  });
}
