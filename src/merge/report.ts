/**
 * Merge diagnostics. A Strategy keeps its plain signature; when the caller puts a
 * `report` sink into the MergeContext, the strategy calls it once per merge with who
 * was used, with what share, and who was left out and why. `mergeWithReport` wraps that
 * for callers that want the report as a return value (UI, metrics, tests).
 */
import type { Weights } from '../model/weights.ts';
import type { Candidate, MergeContext, Strategy } from './types.ts';

export type RejectReason =
  /** Layer names or shapes differ from own. */
  | 'architecture'
  /** Contains NaN or +-Infinity. */
  | 'non-finite'
  /** A finite value outside the absolute bound (DEFAULT_VALUE_BOUND, src/model/bounds.ts). */
  | 'out-of-range'
  /** An older model from a peer that also offered a newer one. */
  | 'duplicate'
  /** Not chosen by a prioritizer (e.g. Bristle's distance thirds). */
  | 'not-prioritized'
  /** Not among the models a selection rule kept (Krum, Multi-Krum). */
  | 'not-selected'
  /** Farther than the acceptance radius (BALANCE). */
  | 'too-far';

export interface UsedCandidate {
  readonly peer: string;
  readonly seq: number;
  /**
   * Share of the merged result this candidate contributed: for weighted averages
   * w_j / (1 + sum w), averaged over the merged parameters; for coordinate-wise statistics
   * (median, trimmed mean) an equal share 1/n of the inputs. Own share + shares = 1.
   */
  readonly share: number;
}

export interface RejectedCandidate {
  readonly peer: string;
  readonly seq: number;
  readonly reason: RejectReason;
}

export interface MergeReport {
  readonly strategy: string;
  /** Share of own model in the result (1 when nothing was merged). */
  readonly ownShare: number;
  readonly used: readonly UsedCandidate[];
  readonly rejected: readonly RejectedCandidate[];
}

export type ReportSink = (report: MergeReport) => void;

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
