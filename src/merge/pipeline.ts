/**
 * Compose merge stages into a Strategy:
 *   guard -> prioritizer (optional) -> integrator -> adjusters (e.g. L-DAWA) -> combine.
 * Every stage is also usable alone; the pipeline only threads data and the report.
 */
import { cloneWeights, type Weights } from '../model/weights.ts';
import { admitCandidates, mergedLayerIndices } from './guard.ts';
import { type RejectedCandidate, rejectAll } from './report.ts';
import type { Candidate, MergeContext, Strategy } from './types.ts';
import { combine, shares, type Weighting } from './weighting.ts';

/** Chooses which candidates go on to the (possibly expensive) integrator. */
export type Prioritizer = (
  own: Weights,
  candidates: readonly Candidate[],
  ctx: MergeContext,
  layers: readonly number[],
) => readonly Candidate[];

/** Gives every candidate a weight per merged layer (and per class on class-wise layers). */
export type Integrator = (
  own: Weights,
  candidates: readonly Candidate[],
  ctx: MergeContext,
  layers: readonly number[],
) => Weighting;

/** Rescales a weighting (never adds candidates). */
export type Adjuster = (own: Weights, weighting: Weighting, ctx: MergeContext) => Weighting;

export interface PipelineStages {
  /** Name reported in MergeReport.strategy. */
  readonly name: string;
  readonly prioritizer?: Prioritizer;
  readonly integrator: Integrator;
  readonly adjusters?: readonly Adjuster[];
}

export function pipeline(stages: PipelineStages): Strategy {
  return (own, candidates, ctx) => {
    const layers = mergedLayerIndices(own, ctx);
    const { admitted, rejected } = admitCandidates(own, candidates, layers, undefined, ctx.scans);
    if (admitted.length === 0) {
      ctx.report?.({ strategy: stages.name, ownShare: 1, used: [], rejected });
      return cloneWeights(own);
    }
    const chosen = stages.prioritizer === undefined ? admitted : stages.prioritizer(own, admitted, ctx, layers);
    const chosenSet = new Set(chosen);
    const notChosen: RejectedCandidate[] = rejectAll(
      admitted.filter((c) => !chosenSet.has(c)),
      'not-prioritized',
    );
    let weighting = stages.integrator(own, chosen, ctx, layers);
    for (const adjust of stages.adjusters ?? []) weighting = adjust(own, weighting, ctx);
    const merged = combine(own, weighting);
    if (ctx.report !== undefined) {
      const { ownShare, used } = shares(own, weighting);
      ctx.report({ strategy: stages.name, ownShare, used, rejected: [...rejected, ...notChosen] });
    }
    return merged;
  };
}
