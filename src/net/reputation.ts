/**
 * Local reputation of peers: the app-specific part of a peer's score (gossipsub P5).
 * Each `penalize` subtracts an amount; penalties decay exponentially (half-life
 * `PENALTY_HALF_LIFE`) so a peer that behaves again recovers. Environment-neutral.
 */
import { PENALTY, PENALTY_HALF_LIFE } from './constants.ts';

export interface ReputationInit {
  /** Amount one `penalize` subtracts (default `PENALTY`, 1). */
  penalty?: number;
  /** Half-life of penalties in ms (default `PENALTY_HALF_LIFE`, 10 min). */
  halfLife?: number;
  /** Clock, for tests (default `Date.now`). */
  now?: () => number;
}

interface Entry {
  value: number;
  at: number;
}

/** Below this magnitude an entry is dropped. */
const NEGLIGIBLE = 1e-3;

export class Reputation {
  readonly #penalty: number;
  readonly #halfLife: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(init: ReputationInit = {}) {
    this.#penalty = init.penalty ?? PENALTY;
    this.#halfLife = init.halfLife ?? PENALTY_HALF_LIFE;
    this.#now = init.now ?? Date.now;
  }

  /** Lower `peer`'s reputation by `amount` penalties (default one). */
  penalize(peer: string, amount = 1): void {
    this.#entries.set(peer, { value: this.score(peer) - amount * this.#penalty, at: this.#now() });
  }

  /** Current value: 0 for unknown or recovered peers, negative when penalised. */
  score(peer: string): number {
    const e = this.#entries.get(peer);
    if (e == null) return 0;
    const value = e.value * 0.5 ** ((this.#now() - e.at) / this.#halfLife);
    if (Math.abs(value) < NEGLIGIBLE) {
      this.#entries.delete(peer);
      return 0;
    }
    return value;
  }

  /** Peers with a non-zero reputation. */
  peers(): string[] {
    return [...this.#entries.keys()].filter((p) => this.score(p) !== 0);
  }
}
