/**
 * Shunning: a sender whose models this peer's merge keeps finding harmful is dropped from
 * the neighbour set for a term of rounds and replaced by another peer. The merge only decides about
 * one model at a time; with D neighbours a detected attacker would otherwise stay among
 * them until its slot is reset, get another chance in every merge, and keep a slot an
 * honest peer could fill. Pure bookkeeping on merge reports: no network, no timers.
 *
 * A verdict is one merge's decision about a sender: used, or rejected for harm (reasons
 * in HARM_REASONS). Other rejections (uncertain, duplicate, not prioritised) say nothing
 * about intent and are not verdicts. A sender is shunned once `after` of its last
 * `window` verdicts are harm: one harmful verdict is what an honest specialist gets now
 * and then (about 1 in 20 of its merges, docs/ALGORITHMS.md "Shunning"), repeated ones
 * are not.
 *
 * A shun lasts `term` rounds, doubled each time the same sender is shunned again. Then the
 * sender is on probation: one more harm verdict among its next ones shuns it again. A term,
 * not for good, because a model can fail the merge's tests for a while without intent: a
 * daemon restarted from an old checkpoint sends models that are behind until it has merged
 * its neighbours' (docs/ALGORITHMS.md "Shunning").
 */
import type { MergeReport, RejectReason } from '../merge/report.ts';

/**
 * Rejections that count against a sender: its model made the merge worse, was out of
 * bounds, was a near-copy of another sender's (colluding identities; honest peers train
 * on their own data), improved too few classes against the round's start model
 * (`no-progress`, once per model: see Shunning.observe), or its update pointed against the
 * others' (`opposed`).
 */
export const HARM_REASONS: ReadonlySet<RejectReason> = new Set<RejectReason>([
  'harmful',
  'too-far',
  'non-finite',
  'out-of-range',
  'copies',
  'opposed',
  'no-progress',
]);

/** Senders remembered at most (verdicts and shunned ids); the least recently judged are forgotten first. */
export const SHUNNING_CAPACITY = 4096;

/** Rounds a sender's first shun lasts (SHUN_TERM_ROUNDS x 2^k for its (k+1)-th). */
export const SHUN_TERM_ROUNDS = 8;
/** Doublings of the term at most (a term stays a safe integer however often one sender is shunned). */
const MAX_TERM_DOUBLINGS = 20;

export interface ShunningOptions {
  /** Harm verdicts among the last `window` that shun a sender (0 = never shun). */
  readonly after: number;
  /** Verdicts remembered per sender. Default 2 x after. */
  readonly window?: number;
  readonly capacity?: number;
  /** Rounds a first shun lasts, doubled for each further shun of the same sender; 0 = for good. Default SHUN_TERM_ROUNDS. */
  readonly term?: number;
}

export class Shunning {
  readonly after: number;
  readonly window: number;
  readonly term: number;
  readonly #capacity: number;
  /** Last verdicts per sender, true = harm, oldest first; Map order = least recently judged first. */
  readonly #verdicts = new Map<string, boolean[]>();
  /** Shunned senders and the round their term ends (Infinity with term 0), oldest shun first. */
  readonly #shunned = new Map<string, number>();
  /** Per sender, how often it was shunned (its next term doubles); Map order = least recently shunned first. */
  readonly #shuns = new Map<string, number>();
  /** Per sender, the seq of its last model rejected as 'no-progress' (judged once per model). */
  readonly #noProgressSeq = new Map<string, number>();
  /** Shuns dropped at capacity before their term ended: the next release() releases them. */
  #dropped = new Set<string>();

  constructor(options: ShunningOptions) {
    if (!Number.isInteger(options.after) || options.after < 0)
      throw new RangeError(`shunAfter must be an integer >= 0, got ${String(options.after)}`);
    this.after = options.after;
    this.window = options.window ?? 2 * options.after;
    if (!Number.isInteger(this.window) || this.window < this.after)
      throw new RangeError(`shun window must be an integer >= after (${this.after}), got ${String(this.window)}`);
    this.#capacity = options.capacity ?? SHUNNING_CAPACITY;
    this.term = options.term ?? SHUN_TERM_ROUNDS;
    if (!Number.isInteger(this.term) || this.term < 0)
      throw new RangeError(`shunRounds must be an integer >= 0, got ${String(options.term)}`);
  }

  has(peer: string): boolean {
    return this.#shunned.has(peer);
  }

  get size(): number {
    return this.#shunned.size;
  }

  /** The round `peer`'s shun ends (Infinity: for good), or undefined if it is not shunned. */
  until(peer: string): number | undefined {
    return this.#shunned.get(peer);
  }

  /**
   * Takes one merge's verdicts, made in `round`; returns the senders shunned by them
   * (newly), each until `until(peer)`.
   */
  observe(report: MergeReport | undefined, round: number): string[] {
    if (report === undefined || this.after === 0) return [];
    const fresh: string[] = [];
    const judge = (peer: string, harm: boolean): void => {
      if (this.#shunned.has(peer)) return;
      const kept = [...(this.#verdicts.get(peer) ?? []), harm].slice(-this.window);
      this.#verdicts.delete(peer);
      this.#verdicts.set(peer, kept);
      const harms = kept.filter((h) => h).length;
      // A clean window halves the count once; the next halving needs another clean window.
      if (harms === 0 && kept.length === this.window && this.#forgive(peer)) this.#verdicts.set(peer, []);
      if (harms >= this.after) {
        this.#verdicts.delete(peer);
        const shuns = this.#shuns.get(peer) ?? 0;
        this.#shuns.delete(peer);
        this.#shuns.set(peer, shuns + 1);
        const term = this.term === 0 ? Number.POSITIVE_INFINITY : this.term * 2 ** Math.min(shuns, MAX_TERM_DOUBLINGS);
        this.#shunned.set(peer, round + term);
        fresh.push(peer);
      }
    };
    for (const u of report.used) judge(u.peer, false);
    for (const r of report.rejected) {
      if (!HARM_REASONS.has(r.reason)) continue;
      // One verdict per model for 'no-progress': a model that is behind (a restarted
      // daemon's) is judged in every gossip step of a round, but it is one model.
      if (r.reason === 'no-progress') {
        if (this.#noProgressSeq.get(r.peer) === r.seq) continue;
        this.#noProgressSeq.delete(r.peer);
        this.#noProgressSeq.set(r.peer, r.seq);
      }
      judge(r.peer, true);
    }
    this.#forgetOldest();
    return fresh;
  }

  /**
   * Ends the shuns whose term is over by `round` (a shun made in round r with term t ends
   * at the start of round r + t); returns those senders. Each is on probation: it keeps
   * `after - 1` harm verdicts, so one more among its next `window - after + 1` shuns it
   * again, for twice as long. A sender whose last `window` verdicts hold no harm has its
   * count of shuns halved, so an honest peer shunned now and then (a daemon restarted
   * from an old checkpoint, more than once) does not end up shunned for good. Shuns
   * dropped at capacity since the last call are returned too.
   */
  release(round: number): string[] {
    // Shuns dropped at capacity are over too (on probation, like a term that ended): whoever
    // acts on shuns (the sampler) must hear so.
    const ended = [...this.#dropped].filter((peer) => !this.#shunned.has(peer));
    this.#dropped.clear();
    for (const [peer, until] of this.#shunned) if (until <= round) ended.push(peer);
    for (const peer of ended) {
      this.#shunned.delete(peer);
      this.#verdicts.delete(peer);
      if (this.after > 1) this.#verdicts.set(peer, new Array<boolean>(this.after - 1).fill(true));
    }
    this.#forgetOldest();
    return ended;
  }

  /** A clean window: the sender's count of shuns (its next term's doublings) halves. False if it had none. */
  #forgive(peer: string): boolean {
    const shuns = this.#shuns.get(peer);
    if (shuns === undefined) return false;
    if (shuns <= 1) this.#shuns.delete(peer);
    else this.#shuns.set(peer, Math.floor(shuns / 2));
    return true;
  }

  #forgetOldest(): void {
    while (this.#verdicts.size > this.#capacity) this.#verdicts.delete(this.#verdicts.keys().next().value as string);
    while (this.#noProgressSeq.size > this.#capacity)
      this.#noProgressSeq.delete(this.#noProgressSeq.keys().next().value as string);
    while (this.#shunned.size > this.#capacity) {
      const oldest = this.#shunned.keys().next().value as string;
      this.#shunned.delete(oldest);
      this.#dropped.add(oldest);
    }
    while (this.#shuns.size > this.#capacity) this.#shuns.delete(this.#shuns.keys().next().value as string);
  }
}
