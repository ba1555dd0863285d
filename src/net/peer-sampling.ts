/**
 * Peer sampling: which D peers a peer takes model updates from (its neighbours), chosen so
 * that the choice mixes over the whole mesh and one attacker cannot steer it.
 * Pure logic, no network and no timers: the Peer (src/peer/neighbourhood.ts) moves the
 * messages (src/wire/sampling.ts) and calls `tick` once per round. Environment-neutral.
 *
 * The view is D ranked slots (after Basalt, Auvolat et al. 2023). Slot s has a secret seed
 * σ_s; it holds, of every peer id this peer has seen since the slot's last reset, the one
 * with the lowest rank h(σ_s, id). An id seen again changes nothing, so repeating oneself,
 * or sending many messages, does not help: a slot goes to an attacker's identity only if
 * one of its identities ranks lowest among all ids seen, i.e. about as often as its share
 * of the identities seen. Every `resetEvery` rounds one slot (round robin) gets a new seed
 * and restarts from the ids this peer currently knows: that is the reshuffle that makes
 * information mix over the whole mesh, and it also lets a slot leave a peer that
 * happened to rank well forever.
 *
 * Entries are learned only from direct contacts: the answer to an exchange this peer
 * started (at most `maxEntries` ids), and the sender of an inbound exchange itself (at
 * most `maxInboundPerRound` per round, one exchange per sender per round); the entries an
 * inbound exchange carries are not taken. A holder is replaced only by a strictly better
 * rank, so a long-known neighbour stays until its slot is reset.
 */
import { createRng, type Rng } from '../data/rng.ts';
import { DEFAULT_NEIGHBOURS } from '../peer/gossip-steps.ts';

/** Default number of neighbours D whose updates a peer consumes (src/peer/gossip-steps.ts). */
export { DEFAULT_NEIGHBOURS };
/** Most entries one sampling message may carry (the wire limit, src/wire/sampling.ts). */
export const MAX_SAMPLE_ENTRIES = 32;
/** Default: one slot is reseeded every this many rounds. */
export const DEFAULT_RESET_EVERY = 1;
/** Default: senders of inbound exchanges learned per round, over all senders. */
export const DEFAULT_INBOUND_PER_ROUND = 4;
/** Ids remembered as reset candidates besides the slot holders (most recently seen first). */
export const DEFAULT_RECENT = 256;

export interface SamplerOptions {
  /** This peer's id (never its own neighbour). */
  readonly self: string;
  /** D: slots, and so at most D neighbours. */
  readonly neighbours?: number;
  /** One slot is reseeded every this many rounds (0 = never). */
  readonly resetEvery?: number;
  /** Entries taken from one message; more are ignored. */
  readonly maxEntries?: number;
  /** Senders of inbound exchanges learned per round. */
  readonly maxInboundPerRound?: number;
  /** Reset candidates kept besides the holders. */
  readonly recent?: number;
  readonly seed?: number;
}

interface Slot {
  seed: number;
  holder: string | undefined;
  rank: number;
}

/** 32-bit rank of `id` under `seed` (murmur3's mixing over UTF-16 units): uniform, not guessable without the seed. */
export function rankOf(seed: number, id: string): number {
  let h = seed >>> 0;
  for (let i = 0; i < id.length; i++) {
    let k = Math.imul(id.charCodeAt(i), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= id.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function positiveInt(v: number, what: string, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${what} must be an integer >= ${min}, got ${v}`);
  return v;
}

export class PeerSampler {
  readonly self: string;
  readonly size: number;
  readonly resetEvery: number;
  readonly maxEntries: number;
  readonly maxInboundPerRound: number;
  readonly #recentLimit: number;
  readonly #rng: Rng;
  readonly #slots: Slot[];
  /** Recently seen ids (insertion order = age), the candidates of a reset slot. */
  readonly #recent = new Set<string>();
  /** Ids that failed (unreachable, refused): not taken again until they are seen anew. */
  readonly #gone = new Set<string>();
  /** Ids not taken again until readmitted (shun), oldest first. */
  readonly #shunned = new Set<string>();
  readonly #inbound = new Set<string>();
  #learned = 0;
  /** neighbours(), until the slots or the known ids change. */
  #neighbours: string[] | undefined;
  #round = 0;
  #nextReset = 0;

  constructor(options: SamplerOptions) {
    this.self = options.self;
    this.size = positiveInt(options.neighbours ?? DEFAULT_NEIGHBOURS, 'neighbours', 1);
    this.resetEvery = positiveInt(options.resetEvery ?? DEFAULT_RESET_EVERY, 'resetEvery', 0);
    this.maxEntries = positiveInt(options.maxEntries ?? MAX_SAMPLE_ENTRIES, 'maxEntries', 1);
    this.maxInboundPerRound = positiveInt(
      options.maxInboundPerRound ?? DEFAULT_INBOUND_PER_ROUND,
      'maxInboundPerRound',
      0,
    );
    this.#recentLimit = positiveInt(options.recent ?? DEFAULT_RECENT, 'recent', 0);
    this.#rng = createRng(options.seed ?? 0).fork(`sampler-${options.self}`);
    this.#slots = Array.from({ length: this.size }, () => ({
      seed: this.#newSeed(),
      holder: undefined,
      rank: Number.POSITIVE_INFINITY,
    }));
  }

  /**
   * The current neighbours, at most D and distinct, in slot order: each slot's holder, or,
   * when two slots hold the same peer (likely when few ids are known), the best-ranked
   * known id under that slot's seed not taken yet, so a peer follows min(D, known) peers.
   */
  neighbours(): string[] {
    if (this.#neighbours !== undefined) return [...this.#neighbours];
    const out: string[] = [];
    const taken = new Set<string>();
    const known = new Set<string>(this.#recent);
    for (const s of this.#slots) if (s.holder !== undefined) known.add(s.holder);
    for (const s of this.#slots) {
      let pick = s.holder !== undefined && !taken.has(s.holder) ? s.holder : undefined;
      if (pick === undefined) {
        let best = Number.POSITIVE_INFINITY;
        for (const id of known) {
          if (taken.has(id)) continue;
          const rank = rankOf(s.seed, id);
          if (rank < best) {
            best = rank;
            pick = id;
          }
        }
      }
      if (pick === undefined) continue;
      taken.add(pick);
      out.push(pick);
    }
    this.#neighbours = out;
    return [...out];
  }

  has(id: string): boolean {
    return this.neighbours().includes(id);
  }

  /**
   * Ids to send in an exchange, at most `maxEntries`: this peer, its neighbours, then ids
   * drawn at random from those seen recently (so that ids spread faster than views change).
   */
  entries(): string[] {
    const out = [this.self, ...this.neighbours()];
    const rest = [...this.#recent].filter((id) => !out.includes(id));
    while (out.length < this.maxEntries && rest.length > 0) {
      const i = this.#rng.int(rest.length);
      out.push(rest[i]);
      rest[i] = rest[rest.length - 1];
      rest.pop();
    }
    return out;
  }

  /**
   * A peer we talk to directly (a connection, a bootstrap peer, the sender of an exchange
   * we started). Ranked like any entry.
   */
  introduce(ids: Iterable<string>): void {
    for (const id of ids) this.#see(id);
  }

  /**
   * An inbound exchange from `from` (authenticated by the transport). Returns false when
   * `from` already exchanged this round (refuse it). Otherwise the caller answers; `from`
   * itself is taken while the round's budget of `maxInboundPerRound` learned senders
   * lasts, and its entries never are: ids are learned by pulling (the answers to our own
   * exchanges), so pushing cannot fill our view with an attacker's other identities, and
   * answering never depends on the budget, so an attacker cannot starve honest pulls.
   */
  acceptInbound(from: string): boolean {
    if (from === this.self || this.#inbound.has(from)) return false;
    this.#inbound.add(from);
    if (this.#learned < this.maxInboundPerRound) {
      this.#learned++;
      this.#see(from);
    }
    return true;
  }

  /** The answer to an exchange this peer started with `from`. */
  acceptResponse(from: string, entries: readonly string[]): void {
    this.#take(from, entries);
  }

  /** The partner of this round's exchange: a neighbour chosen at random, or undefined. */
  partner(): string | undefined {
    const n = this.neighbours();
    return n.length === 0 ? undefined : n[this.#rng.int(n.length)];
  }

  /**
   * `id` is unreachable, refused us, or left: it leaves every slot, which restart from the
   * known ids, and is not taken again until seen anew in a later round.
   */
  forget(id: string): void {
    this.#neighbours = undefined;
    this.#gone.add(id);
    this.#recent.delete(id);
    const vacated = this.#slots.filter((s) => s.holder === id);
    for (const s of vacated) {
      s.holder = undefined;
      s.rank = Number.POSITIVE_INFINITY;
    }
    for (const s of vacated) this.#refill(s);
  }

  /**
   * `id` is not taken again until `readmit(id)` (its models kept harming this peer's
   * merges, src/peer/shunning.ts): it leaves every slot like a forgotten id, and stays out
   * after the round. At most `recent` ids are shunned; beyond that the oldest is taken again.
   */
  shun(id: string): void {
    this.#shunned.delete(id);
    this.#shunned.add(id);
    while (this.#shunned.size > Math.max(1, this.#recentLimit)) {
      this.#shunned.delete(this.#shunned.values().next().value as string);
    }
    this.forget(id);
  }

  /** A shunned `id` may be taken again once it is seen again (its shun's term is over). */
  readmit(id: string): void {
    this.#shunned.delete(id);
  }

  /** Forgotten ids may be taken again before the next round (a retry after failures). */
  pardon(): void {
    this.#gone.clear();
  }

  /** Call once at the start of each round: reseeds a slot when due, resets inbound budgets. */
  tick(round: number): void {
    this.#neighbours = undefined;
    this.#round = round;
    this.#inbound.clear();
    this.#learned = 0;
    this.#gone.clear();
    if (this.resetEvery > 0 && round > 0 && round % this.resetEvery === 0) {
      const slot = this.#slots[this.#nextReset];
      this.#nextReset = (this.#nextReset + 1) % this.#slots.length;
      slot.seed = this.#newSeed();
      slot.holder = undefined;
      slot.rank = Number.POSITIVE_INFINITY;
      this.#refill(slot);
    }
  }

  get round(): number {
    return this.#round;
  }

  #take(from: string, entries: readonly string[]): void {
    this.#see(from);
    for (const id of entries.slice(0, this.maxEntries)) this.#see(id);
  }

  #see(id: string): void {
    if (id === this.self || id === '' || this.#gone.has(id) || this.#shunned.has(id)) return;
    if (!this.#recent.has(id)) this.#neighbours = undefined;
    this.#recent.delete(id);
    this.#recent.add(id);
    if (this.#recent.size > this.#recentLimit) this.#recent.delete(this.#recent.values().next().value as string);
    for (const s of this.#slots) this.#offer(s, id);
  }

  #offer(s: Slot, id: string): void {
    const rank = rankOf(s.seed, id);
    // Strictly better only: a holder keeps its slot against ties (long-known peers stay).
    if (rank < s.rank || (rank === s.rank && s.holder !== undefined && id < s.holder)) {
      this.#neighbours = undefined;
      s.holder = id;
      s.rank = rank;
    }
  }

  /** A slot restarts from the ids known now: the other holders and the recently seen. */
  #refill(s: Slot): void {
    for (const other of this.#slots) if (other.holder !== undefined) this.#offer(s, other.holder);
    for (const id of this.#recent) this.#offer(s, id);
  }

  #newSeed(): number {
    return Math.floor(this.#rng.next() * 0x1_0000_0000) >>> 0;
  }
}
