/**
 * Mean (FedAvg): sample-weighted average.
 * McMahan et al., "Communication-Efficient Learning of Deep Networks from Decentralized
 * Data", AISTATS 2017. https://arxiv.org/abs/1602.05629
 *
 * Decentralized form: own model is one input with weight ctx.ownSamples, each candidate
 * with its reported `samples` (untrusted; the guard turns bad counts into 0). If all
 * counts are 0, every input weighs 1. `weighting: "uniform"` ignores sample counts.
 * Not robust: one candidate can move the result arbitrarily far (and can inflate its
 * sample count); it is the no-defence reference.
 */
import { guarded, inputsWithOwn } from './guarded.ts';
import { type OptionsSpec, type Parsed, parseOptions } from './options.ts';
import type { Strategy } from './types.ts';
import { assemble, weightedAverageLayer } from './vectors.ts';

export const MEAN_SPEC = {
  weighting: { kind: 'choice', default: 'samples', values: ['samples', 'uniform'], doc: 'input weights' },
} as const satisfies OptionsSpec;

export type MeanOptions = Parsed<typeof MEAN_SPEC>;

export function meanStrategy(options: Partial<MeanOptions> = {}): Strategy {
  const { weighting } = parseOptions('mean', MEAN_SPEC, options);
  return guarded('mean', (own, candidates, ctx, layers) => {
    const ownSamples = Number.isFinite(ctx.ownSamples) && ctx.ownSamples > 0 ? ctx.ownSamples : 0;
    const counts = [ownSamples, ...candidates.map((c) => c.samples)];
    const total = counts.reduce((s, v) => s + v, 0);
    const weights = weighting === 'samples' && total > 0 ? counts : counts.map(() => 1);
    const sum = weights.reduce((s, v) => s + v, 0);
    const inputs = inputsWithOwn(own, candidates);
    return {
      merged: assemble(own, layers, (i) => weightedAverageLayer(inputs, weights, i)),
      ownShare: weights[0] / sum,
      used: candidates.map((c, j) => ({ peer: c.peer, seq: c.seq, share: weights[j + 1] / sum })),
    };
  });
}
