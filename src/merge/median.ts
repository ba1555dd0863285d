/**
 * Coordinate-wise median.
 * Yin, Chen, Ramchandran, Bartlett, "Byzantine-Robust Distributed Learning: Towards
 * Optimal Statistical Rates", ICML 2018. https://arxiv.org/abs/1803.01498
 *
 * Decentralized form: own model is one of the n = 1 + candidates inputs (as in the
 * decentralized baselines of Bristle and ClippedGossip). For even n the median is the
 * mean of the two middle values. No options.
 */

import { coordinateStatistic } from './coordinate.ts';
import { equalShares, guarded, inputsWithOwn } from './guarded.ts';
import { parseOptions } from './options.ts';
import type { Strategy } from './types.ts';
import { assemble } from './vectors.ts';

export function medianStrategy(options: Record<string, never> = {}): Strategy {
  parseOptions('median', {}, options);
  return guarded('median', (own, candidates, _ctx, layers) => {
    const inputs = inputsWithOwn(own, candidates);
    const n = inputs.length;
    const lo = Math.floor((n - 1) / 2);
    const hi = Math.floor(n / 2);
    const merged = assemble(own, layers, (i) =>
      coordinateStatistic(inputs, i, (sorted) => (sorted[lo] + sorted[hi]) / 2),
    );
    return { merged, ...equalShares(candidates) };
  });
}
