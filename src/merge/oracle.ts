/**
 * The honest-only oracle: a reference row for simulations, not a defence. The merging peer
 * drops every candidate that ground truth says is not honest and averages the rest with
 * `mean` (./mean.ts, options passed through). It is the accuracy a perfect filter would
 * reach, so merge rules are judged against it in the same run (issue 13).
 *
 * It needs ground truth (who attacks), which only a simulation has: the strategy registry
 * does not know the name. Simulation runners resolve it with `oracleStrategy` and their
 * attacker list; the daemon refuses it in its config (node/daemon/config.ts).
 */
import { type MeanOptions, meanStrategy } from './mean.ts';
import type { MergeReport, RejectedCandidate } from './report.ts';
import type { Strategy } from './types.ts';

/** The strategy name simulations resolve to the oracle. */
export const ORACLE_STRATEGY = 'oracle';

/** Why a config that names the oracle is refused outside simulations. */
export const ORACLE_SIMULATION_ONLY =
  '"oracle" needs ground truth about which peers attack, so it exists in simulations only ' +
  '(meshfl simulate); pick a merge strategy such as "bristle+ldawa" or "mean"';

/** True when a strategy spec names the oracle. */
export function isOracle(spec: string | { readonly name: string }): boolean {
  return (typeof spec === 'string' ? spec : spec.name) === ORACLE_STRATEGY;
}

/**
 * `mean` over own and the candidates for which `isHonest(peer id)` holds. The others are
 * reported as rejected with reason "not-selected", so their share is 0.
 */
export function oracleStrategy(isHonest: (peer: string) => boolean, options: Partial<MeanOptions> = {}): Strategy {
  const mean = meanStrategy(options);
  return (own, candidates, ctx) => {
    const dropped: RejectedCandidate[] = candidates
      .filter((c) => !isHonest(c.peer))
      .map((c) => ({ peer: c.peer, seq: c.seq, reason: 'not-selected' }));
    const sink = ctx.report;
    return mean(
      own,
      candidates.filter((c) => isHonest(c.peer)),
      sink === undefined
        ? ctx
        : {
            ...ctx,
            report: (r: MergeReport) =>
              sink({ ...r, strategy: ORACLE_STRATEGY, rejected: [...dropped, ...r.rejected] }),
          },
    );
  };
}
