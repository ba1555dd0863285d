/**
 * BALANCE.
 * Fang, Zhang, Liu, Gong (Minghong Fang et al.), "Byzantine-Robust Decentralized Federated
 * Learning", ACM CCS 2024. https://arxiv.org/abs/2406.10416
 *
 * Candidate j is accepted if ||x_i - x_j|| <= gamma * exp(-kappa * t / T) * ||x_i||
 * (t = ctx.round, T = total rounds); then x_i <- alpha x_i + (1 - alpha) mean(accepted).
 * If nothing is accepted, own is kept. Norms over the merged layers.
 * Defaults: gamma 0.3, kappa 1, alpha 0.5 (the paper's); T = 100 (meshfl: the paper sets
 * T to the number of training rounds, set it to yours).
 */
import { guarded } from './guarded.ts';
import { type OptionsSpec, type Parsed, parseOptions } from './options.ts';
import { rejectAll } from './report.ts';
import type { Strategy } from './types.ts';
import { assemble, distanceSquared, normSquared, weightedAverageLayer } from './vectors.ts';

export const BALANCE_SPEC = {
  gamma: { kind: 'number', default: 0.3, min: 0, doc: 'acceptance radius relative to ||x_i||' },
  kappa: { kind: 'number', default: 1, min: 0, doc: 'decay rate of the radius over rounds' },
  alpha: { kind: 'number', default: 0.5, min: 0, max: 1, doc: 'weight of own model' },
  T: { kind: 'number', default: 100, min: 1, doc: 'total number of rounds' },
} as const satisfies OptionsSpec;

export type BalanceOptions = Parsed<typeof BALANCE_SPEC>;

export function balanceThreshold(ownNorm: number, round: number, o: BalanceOptions): number {
  return o.gamma * Math.exp((-o.kappa * round) / o.T) * ownNorm;
}

export function balanceStrategy(options: Partial<BalanceOptions> = {}): Strategy {
  const parsed = parseOptions('balance', BALANCE_SPEC, options);
  return guarded('balance', (own, candidates, ctx, layers) => {
    const limit = balanceThreshold(Math.sqrt(normSquared(own, layers)), ctx.round, parsed);
    const accepted = candidates.filter((c) => Math.sqrt(distanceSquared(own, c.weights, layers)) <= limit);
    const rejected = rejectAll(
      candidates.filter((c) => !accepted.includes(c)),
      'too-far',
    );
    if (accepted.length === 0) {
      return { merged: assemble(own, layers, (i) => own[i]!.values.slice()), ownShare: 1, used: [], rejected };
    }
    const { alpha } = parsed;
    const each = (1 - alpha) / accepted.length;
    const inputs = [own, ...accepted.map((c) => c.weights)];
    const weights = [alpha, ...accepted.map(() => each)];
    // alpha = 1 with accepted candidates: weights still sum to 1 > 0.
    const merged = assemble(own, layers, (i) => weightedAverageLayer(inputs, weights, i));
    return {
      merged,
      ownShare: alpha,
      used: accepted.map((c) => ({ peer: c.peer, seq: c.seq, share: each })),
      rejected,
    };
  });
}
