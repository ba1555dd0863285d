/**
 * Class progress (bristle+ldawa option `progress`): an honest peer trains on its own data,
 * so its model lowers the validation loss of the classes it holds against the model it
 * started the round from. IPM copies (a step back along the honest mean) and sign-flipped
 * updates (a step back along the sender's own) lower few or none. Measured on the merge
 * logs of docs/ALGORITHMS.md "Class progress with D neighbours": under 4-class shards an
 * honest candidate improved at least 3 classes by more than 5% in 90% of its offers.
 *
 * Pure math on per-sample losses: no tfjs, no libp2p.
 */
import { median } from './influence.ts';

/** Mean per-sample loss per class (NaN for a class without samples). */
export function classMeanLoss(
  sampleLoss: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses: number,
): Float64Array {
  const sum = new Float64Array(numClasses);
  const count = new Float64Array(numClasses);
  const n = Math.min(sampleLoss.length, labels.length);
  for (let i = 0; i < n; i++) {
    const c = labels[i] as number;
    if (c < 0 || c >= numClasses) continue;
    sum[c] += sampleLoss[i] as number;
    count[c] += 1;
  }
  return sum.map((s, c) => (count[c] > 0 ? s / count[c] : Number.NaN));
}

/**
 * Classes whose mean loss is lower than the reference's by more than `minGain` of the
 * reference's: (ref_c - loss_c) / ref_c > minGain. Classes without samples, or with a
 * non-finite or zero reference, do not count. A non-finite loss is no improvement.
 */
export function improvedClasses(loss: ArrayLike<number>, reference: ArrayLike<number>, minGain: number): number {
  let n = 0;
  for (let c = 0; c < reference.length; c++) {
    const r = reference[c] as number;
    const l = loss[c] as number;
    if (!(Number.isFinite(r) && r > 0 && Number.isFinite(l))) continue;
    if ((r - l) / r > minGain) n++;
  }
  return n;
}

/**
 * Indices of the candidates that improved fewer classes than half the median count over
 * own and every candidate: under 4-class shards (median 4) those that improve at most one
 * class, under one- or two-class data (median 1-2) only those that improve none.
 */
export function withoutProgress(counts: readonly number[], ownCount: number): number[] {
  const bar = median([ownCount, ...counts]) / 2;
  return counts.flatMap((k, j) => (k < bar ? [j] : []));
}

/** Rounds back a lagging sender is judged against at most (older starts are not kept). */
export const MAX_PROGRESS_LAG = 3;

/**
 * Per-class losses on V of own's start model, for the current round and the
 * MAX_PROGRESS_LAG before it (V does not change between rounds, so they compare). A sender
 * that lags L rounds (Candidate.lag, measured by the Peer from its pace) is judged against
 * own's start of L rounds ago: a slower honest peer cannot have seen newer ones, and
 * against them its model looks like a step back.
 */
export class StartLosses {
  readonly #byRound = new Map<number, Float64Array>();
  /** The start model whose losses #byRound holds for the latest round (a round's merges share it). */
  #latest: { readonly round: number; readonly start: object } | undefined;

  /** The losses of `start`, own's start model in `round`, if this round's merges already had them. */
  at(round: number, start: object): Float64Array | undefined {
    return this.#latest?.round === round && this.#latest.start === start ? this.#byRound.get(round) : undefined;
  }

  set(round: number, start: object, loss: Float64Array): void {
    this.#byRound.set(round, loss);
    this.#latest = { round, start };
    for (const r of this.#byRound.keys()) if (r < round - MAX_PROGRESS_LAG || r > round) this.#byRound.delete(r);
  }

  /**
   * The start losses `lag` rounds before `round` (at most MAX_PROGRESS_LAG), or the oldest
   * kept since; undefined for lag 0 or when none older is kept.
   */
  lagging(round: number, lag: number): Float64Array | undefined {
    if (!(lag > 0)) return undefined;
    for (let back = Math.min(Math.floor(lag), MAX_PROGRESS_LAG); back > 0; back--) {
      const loss = this.#byRound.get(round - back);
      if (loss !== undefined) return loss;
    }
    return undefined;
  }
}
