/**
 * Wraps a baseline rule with the shared guard and the report: the rule sees only admitted
 * candidates (same architecture, finite, newest per peer, sane sample counts), at least
 * one of them, and the indices of the merged layers.
 */
import { cloneWeights, type Weights } from '../model/weights.ts';
import { admitCandidates, mergedLayerIndices } from './guard.ts';
import type { RejectedCandidate, UsedCandidate } from './report.ts';
import type { Candidate, MergeContext, Strategy } from './types.ts';

export interface RuleResult {
  readonly merged: Weights;
  readonly ownShare: number;
  readonly used: readonly UsedCandidate[];
  readonly rejected?: readonly RejectedCandidate[];
}

export type Rule = (
  own: Weights,
  candidates: readonly Candidate[],
  ctx: MergeContext,
  layers: readonly number[],
) => RuleResult;

export function guarded(name: string, rule: Rule): Strategy {
  return (own, candidates, ctx) => {
    const layers = mergedLayerIndices(own, ctx);
    const { admitted, rejected } = admitCandidates(own, candidates, layers, undefined, ctx.scans);
    if (admitted.length === 0) {
      ctx.report?.({ strategy: name, ownShare: 1, used: [], rejected });
      return cloneWeights(own);
    }
    const result = rule(own, admitted, ctx, layers);
    ctx.report?.({
      strategy: name,
      ownShare: result.ownShare,
      used: result.used,
      rejected: [...rejected, ...(result.rejected ?? [])],
    });
    return result.merged;
  };
}

/** Own followed by the candidates' weights: the inputs of rules that treat own as one more model. */
export function inputsWithOwn(own: Weights, candidates: readonly Candidate[]): Weights[] {
  return [own, ...candidates.map((c) => c.weights)];
}

/** Equal share 1/n for own and every candidate. */
export function equalShares(candidates: readonly Candidate[]): { ownShare: number; used: UsedCandidate[] } {
  const share = 1 / (candidates.length + 1);
  return { ownShare: share, used: candidates.map((c) => ({ peer: c.peer, seq: c.seq, share })) };
}
