/**
 * Merge diagnostics. A Strategy keeps its plain signature; when the caller puts a
 * `report` sink into the MergeContext, the strategy calls it once per merge with who
 * was used, with what share, and who was left out and why. `mergeWithReport` wraps that
 * for callers that want the report as a return value (UI, metrics, tests).
 */
import type { Weights } from '../model/weights.ts';
import type { Candidate, MergeContext, MergeReport, RejectedCandidate, RejectReason, Strategy } from './types.ts';

// The report's types live in types.ts with the rest of the merge contract (the context
// carries the report sink); they are re-exported here, where callers look for them.
export type { MergeReport, RejectedCandidate, RejectReason, ReportSink, UsedCandidate } from './types.ts';

export function rejectAll(candidates: readonly Candidate[], reason: RejectReason): RejectedCandidate[] {
  return candidates.map((c) => ({ peer: c.peer, seq: c.seq, reason }));
}

/** Run `strategy` and return its result together with the report it produced. */
export function mergeWithReport(
  strategy: Strategy,
  own: Weights,
  candidates: readonly Candidate[],
  ctx: MergeContext,
): { weights: Weights; report: MergeReport | undefined } {
  let report: MergeReport | undefined;
  const outer = ctx.report;
  const weights = strategy(own, candidates, {
    ...ctx,
    report: (r) => {
      report = r;
      outer?.(r);
    },
  });
  return { weights, report };
}
