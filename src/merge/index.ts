/**
 * meshfl merge engine: pure functions over Weights.
 *
 * @example
 * ```ts
 * import { createStrategy, mergeWithReport } from './src/merge/index.ts';
 * const strategy = createStrategy('bristle+ldawa');
 * const { weights, report } = mergeWithReport(strategy, own, candidates, ctx);
 * ```
 */

export { type BalanceOptions, balanceStrategy, balanceThreshold } from './balance.ts';
export { type BristleOptions, bristleStrategy, ldawaStrategy } from './bristle.ts';
export { type BristleDistanceOptions, bristleDistance, thirdQuotas } from './bristle-distance.ts';
export { BRISTLE_LDAWA_SPEC, type BristleLdawaOptions, bristleLdawaStrategy } from './bristle-ldawa.ts';
export {
  type BristlePerformanceOptions,
  bristlePerformance,
  bristleWeights,
  certainty,
  classScore,
  scoreToWeight,
} from './bristle-performance.ts';
export { type CenteredClippingOptions, centeredClippingStrategy } from './centered-clipping.ts';
export { adaptiveRadius, type ClippedGossipOptions, clippedGossipStrategy } from './clipped-gossip.ts';
export { type ColluderGroups, colluderGroups } from './colluders.ts';
export { admitCandidates, mergedLayerIndices } from './guard.ts';
export { harmfulOutliers, TrustMemory } from './influence.ts';
export { type KrumOptions, krumScores, krumStrategy, type MultiKrumOptions, multiKrumStrategy } from './krum.ts';
export { type LdawaOptions, ldawa, ldawaFactor, updateCosine } from './ldawa.ts';
export { type MeanOptions, meanStrategy } from './mean.ts';
export { medianStrategy } from './median.ts';
export { applyMix, averageCoefficients, mixShares } from './mix.ts';
export { OptionError } from './options.ts';
export { type Adjuster, type Integrator, type PipelineStages, type Prioritizer, pipeline } from './pipeline.ts';
export { createStrategy, DEFAULT_STRATEGY, type StrategySpec, strategyNames } from './registry.ts';
export { type MergeReport, mergeWithReport, type RejectReason, type ReportSink } from './report.ts';
export { type TrimmedMeanOptions, trimmedMeanStrategy } from './trimmed-mean.ts';
export type * from './types.ts';
export { uniformIntegrator } from './uniform.ts';
export { combine, type LayerWeight, scaleWeighting, uniformWeighting, type Weighting } from './weighting.ts';
