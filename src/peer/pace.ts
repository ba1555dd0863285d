/**
 * A neighbour's pace as we see it: the rounds of ours in which its updates arrived (never
 * a claim). The merge's class progress judges a sender that lags L of our rounds against
 * our start model of L rounds ago (src/merge/class-progress.ts): its model was trained
 * from a start that old.
 *
 * A peer publishes `steps` updates per round (gossip steps), close together: after
 * training, then after each merge but the last. A faster receiver therefore sees a slower sender's
 * updates in bursts, two in one round and then none for several. Three updates (the
 * measure before) often spanned one burst and one gap: a daemon that rounded three
 * times slower than a page read as a lag of 0-1 instead of 2-3, and the page rejected its
 * honest models as `no-progress` and shunned it again and again (docs/ALGORITHMS.md "Class
 * progress with D neighbours"). So the pace is averaged over two of the sender's rounds.
 */

/** The sender rounds a full window spans (its 2 x steps intervals between updates). */
const WINDOW_ROUNDS = 2;

/**
 * Our rounds a sender's model may lag without any lag counted: one gossip step out of
 * phase and the quantisation of arrivals into our rounds (a partial window).
 */
const PHASE_ROUNDS = 2;

/**
 * Our rounds of silence after which a sender's pace starts anew (a neighbour that was away).
 * Longer than any lag the merge uses (MAX_PROGRESS_LAG, 3, reached after 8 rounds since the
 * oldest arrival), so a slower sender's gaps between bursts (3 rounds for one three times
 * slower) never reset its window: with the receiver's `staleAfterRounds` (3) as the bar, such
 * a sender read as lag 0 at every burst. A neighbour we stop following, or shun, is
 * forgotten anyway and starts anew when heard again.
 */
export const PACE_SILENCE_ROUNDS = 8;

/** Updates a peer publishes per round (its gossip steps, at least 1). */
function perRound(steps: number): number {
  return Math.max(1, Math.floor(steps));
}

/** Arrivals kept: 2 x steps + 1 updates, which span two of the sender's rounds. */
export function paceWindow(steps: number): number {
  return WINDOW_ROUNDS * perRound(steps) + 1;
}

/**
 * `arrivals` with an update that arrived in our round `round` added, oldest dropped past the
 * window; after PACE_SILENCE_ROUNDS without any, the window starts anew.
 */
export function withArrival(arrivals: readonly number[], round: number, steps: number): number[] {
  const last = arrivals[arrivals.length - 1];
  const kept = last !== undefined && round - last < PACE_SILENCE_ROUNDS ? arrivals : [];
  return [...kept, round].slice(-paceWindow(steps));
}

/**
 * Our rounds a sender lags behind us in our round `round`, from the rounds its last
 * updates arrived in (oldest first), `steps` updates per round:
 * - fewer than steps + 1 updates (less than one of its rounds): 0;
 * - a partial window: the rounds since the oldest minus PHASE_ROUNDS;
 * - a full window (two of its rounds): our rounds per round of its, rounded down, minus
 *   one (a sender at our pace trained from our previous round's start: lag 0).
 * The time since the last update counts too, so a sender that falls silent lags more.
 * Assumes the sender publishes `steps` updates per round, as we do (gossipSteps is a
 * per-peer setting: a sender with more steps than ours reads as faster, with fewer as
 * slower).
 */
export function lagOf(arrivals: readonly number[], round: number, steps: number): number {
  const oldest = arrivals[0];
  const n = arrivals.length;
  if (oldest === undefined || n < perRound(steps) + 1) return 0;
  const since = round - oldest;
  if (n < paceWindow(steps)) return Math.max(0, since - PHASE_ROUNDS);
  return Math.max(0, Math.floor(since / WINDOW_ROUNDS) - 1);
}
