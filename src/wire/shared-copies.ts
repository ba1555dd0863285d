/**
 * Public copies shared read-only between the receivers of one process (simulations of
 * many peers). A sender's public copy is the same at every receiver, bit for bit (CHOCO
 * sequencing, public-copies.ts), so in one process it is computed once and every receiver
 * holds the same arrays instead of a dense copy each.
 *
 * Keyed by object identity, never by content: the result of a message is reused only
 * for the very same message bytes object applied on the very same base copy object, so
 * a sender that sends different bytes to different receivers (equivocation) gets no
 * receiver the other's copy. The in-process Bus hands every receiver the same bytes
 * object; over a real transport each receiver has its own bytes and nothing is shared.
 *
 * Shared weights must never be written to (nothing in src/wire or src/merge writes to a
 * candidate's values).
 */
import type { Weights } from '../model/weights.ts';

interface Result {
  readonly base: Weights | undefined;
  readonly copy: Weights;
}

export class SharedCopies {
  /** Entries live as long as the message bytes do; the copies as long as a receiver holds them. */
  readonly #results = new WeakMap<Uint8Array, Result[]>();
  #hits = 0;
  #misses = 0;

  /** The copy that `message` gives on `base` (undefined for a keyframe), computed once. */
  resolve(message: Uint8Array, base: Weights | undefined, compute: () => Weights): Weights {
    let results = this.#results.get(message);
    const found = results?.find((r) => r.base === base);
    if (found !== undefined) {
      this.#hits++;
      return found.copy;
    }
    this.#misses++;
    const copy = compute();
    if (results === undefined) {
      results = [];
      this.#results.set(message, results);
    }
    results.push({ base, copy });
    return copy;
  }

  /** Copies reused, and computed. */
  get stats(): { readonly hits: number; readonly misses: number } {
    return { hits: this.#hits, misses: this.#misses };
  }
}
