/**
 * Leave-group-out acceptance: does adding a group of candidates help the merged model on
 * the validation set V? With A(S) the mix of own and the accepted groups S,
 *
 *   r_g = (CE_V(A(S \ g)) - CE_V(A(S))) / CE_V(A(S))
 *
 * is positive when g lowers the loss. A group is rejected when its score is harmful in
 * absolute terms (s_g < -mu) and an outlier among the groups
 * (s_g < median(s) - k * max(MAD(s), madFloor)). Reject-on-negative-influence: Nelson et
 * al., "Exploiting Machine Learning to Subvert Your Spam Filter", LEET 2008; Zeno (Xie,
 * Koyejo, Gupta, ICML 2019, https://arxiv.org/abs/1805.10032) scores each update by the
 * loss it causes on held-out data.
 * One round's r is noisy (10 samples per class), so s_g blends it with the sender's
 * running average over earlier rounds (trust memory): an honest specialist that looks
 * poor once keeps its credit, a sender that hurts round after round does not.
 */

/** The median of `xs` (NaN when empty). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median absolute deviation from the median. */
export function mad(xs: readonly number[]): number {
  const m = median(xs);
  return median(xs.map((x) => Math.abs(x - m)));
}

/** Smallest spread the outlier test assumes, so near-identical scores do not reject on noise. */
export const MAD_FLOOR = 0.005;

/**
 * Indices of the scores rejected as harmful: below -mu and an outlier (below
 * median - k max(MAD, madFloor), of `reference`, by default the scores themselves), or below -hard
 * whatever the spread (honest specialists can spread the scores so widely that a clearly
 * harmful group is no outlier).
 */
export function harmfulOutliers(
  scores: readonly number[],
  mu: number,
  k: number,
  hard = Infinity,
  reference: readonly number[] = scores,
  madFloor = MAD_FLOOR,
): number[] {
  if (scores.length === 0) return [];
  const threshold = median(reference) - k * Math.max(mad(reference), madFloor);
  const out: number[] = [];
  scores.forEach((s, g) => {
    if ((s < -mu && s < threshold) || s < -hard) out.push(g);
  });
  return out;
}

/** Scores per sender that TrustMemory.longRun takes its median over. */
export const RECENT_SCORES = 16;

/** Per-sender running average of leave-group-out scores, over the rounds a sender was scored. */
export class TrustMemory {
  readonly #sum = new Map<string, number>();
  readonly #count = new Map<string, number>();
  /** The last RECENT_SCORES scores per sender, oldest first. */
  readonly #recent = new Map<string, number[]>();
  /** Senders remembered at most; the least recently scored are forgotten first. */
  readonly #capacity: number;

  constructor(capacity = 4096) {
    this.#capacity = capacity;
  }

  /**
   * (sum of past scores + current) / (count + 1 + prior): the current round counts as one
   * more sample, and `prior` virtual rounds of score 0 shrink the average of a sender with
   * little history towards neutral, so one poor round of a new honest specialist does not
   * reject it.
   */
  blended(peer: string, current: number, prior = 0): number {
    return ((this.#sum.get(peer) ?? 0) + current) / ((this.#count.get(peer) ?? 0) + 1 + prior);
  }

  /**
   * The median of this round's score and the sender's last `RECENT_SCORES` recorded ones,
   * or undefined while the sender has fewer than `minHistory` earlier scored rounds (one
   * or two rounds are too noisy to condemn a sender on). A median, so one bad round of a
   * sender with a good record does not make it negative, while a sender that hurts a
   * little in most rounds has a negative one.
   */
  longRun(peer: string, current: number, minHistory: number): number | undefined {
    const recent = this.#recent.get(peer) ?? [];
    if (recent.length < minHistory) return undefined;
    return median([...recent, current]);
  }

  /**
   * A sender with a good record: at least `minHistory` (and at least one) recorded scores
   * whose median is above 0 (it has helped in most of its recent rounds).
   */
  trusted(peer: string, minHistory: number): boolean {
    const recent = this.#recent.get(peer);
    return recent !== undefined && recent.length >= Math.max(1, minHistory) && median(recent) > 0;
  }

  /**
   * A sender with a poor record: at least `minHistory` (and at least one) recorded scores
   * whose median is below 0.
   */
  distrusted(peer: string, minHistory: number): boolean {
    const recent = this.#recent.get(peer);
    return recent !== undefined && recent.length >= Math.max(1, minHistory) && median(recent) < 0;
  }

  /** How many of the sender's scores are recorded (at most RECENT_SCORES). */
  recorded(peer: string): number {
    return this.#recent.get(peer)?.length ?? 0;
  }

  /** Past average, or undefined for a sender never scored. */
  average(peer: string): number | undefined {
    const n = this.#count.get(peer);
    return n === undefined ? undefined : (this.#sum.get(peer) as number) / n;
  }

  record(peer: string, score: number): void {
    if (!Number.isFinite(score)) return;
    const sum = (this.#sum.get(peer) ?? 0) + score;
    const count = (this.#count.get(peer) ?? 0) + 1;
    // Re-insert so Map order is least-recently-scored first.
    const recent = [...(this.#recent.get(peer) ?? []), score].slice(-RECENT_SCORES);
    this.#sum.delete(peer);
    this.#count.delete(peer);
    this.#recent.delete(peer);
    this.#sum.set(peer, sum);
    this.#count.set(peer, count);
    this.#recent.set(peer, recent);
    while (this.#sum.size > this.#capacity) {
      const oldest = this.#sum.keys().next().value as string;
      this.#sum.delete(oldest);
      this.#count.delete(oldest);
      this.#recent.delete(oldest);
    }
  }

  get size(): number {
    return this.#sum.size;
  }
}

/**
 * The scores of the last `merges` merges (one array per merge, newest last), for an
 * outlier band that does not depend on how many good senders one merge happens to hold
 * (bristle+ldawa `spreadPool`: with D = 8 neighbours a merge often has fewer than 3).
 * `merges` 0 keeps nothing.
 */
export class RecentScores {
  readonly #merges: number;
  #kept: number[][] = [];

  constructor(merges: number) {
    this.#merges = Math.max(0, Math.floor(merges));
  }

  /** Adds one merge's scores (non-finite ones dropped); forgets the oldest beyond `merges`. */
  push(scores: readonly number[]): void {
    if (this.#merges === 0) return;
    this.#kept.push(scores.filter(Number.isFinite));
    if (this.#kept.length > this.#merges) this.#kept = this.#kept.slice(-this.#merges);
  }

  /** Every kept score, oldest merge first. */
  values(): number[] {
    return this.#kept.flat();
  }
}
