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
 *
 * The sender's own encoder computes the same copy when it encodes (x̂, PublicCopyEncoder):
 * a Peer of this process seeds that copy for its message bytes (`seed`), so a sender's
 * public copy is held once in the process, by its encoder and every receiver alike.
 * Receivers still check what addDelta would have checked (`verify`).
 */
import type { Weights } from '../model/weights.ts';
import type { CheckedLayers } from './message.ts';

interface Result {
  readonly base: Weights | undefined;
  readonly copy: Weights;
  /** Put here by its sender (seed), not computed by a receiver. */
  readonly seeded: boolean;
}

export class SharedCopies {
  /** Entries live as long as the message bytes do; the copies as long as a receiver holds them. */
  readonly #results = new WeakMap<Uint8Array, Result[]>();
  /** Decoded layers by message bytes, while the bytes live. */
  readonly #decoded = new WeakMap<Uint8Array, CheckedLayers>();
  #hits = 0;
  #misses = 0;

  /**
   * The copy that `message` gives on `base` (undefined for a keyframe), computed once.
   * `verify` runs on a copy its sender seeded (it throws as `compute` would have).
   */
  resolve(
    message: Uint8Array,
    base: Weights | undefined,
    compute: () => Weights,
    verify?: (copy: Weights) => void,
  ): Weights {
    let results = this.#results.get(message);
    const found = results?.find((r) => r.base === base);
    if (found !== undefined) {
      if (found.seeded) verify?.(found.copy);
      this.#hits++;
      return found.copy;
    }
    this.#misses++;
    const copy = compute();
    if (results === undefined) {
      results = [];
      this.#results.set(message, results);
    }
    results.push({ base, copy, seeded: false });
    return copy;
  }

  /**
   * The sender's own result for the bytes it sends: `copy` is what `message` gives on
   * `base` (its encoder's x̂ after and before; base undefined for a keyframe or snapshot).
   */
  seed(message: Uint8Array, base: Weights | undefined, copy: Weights): void {
    let results = this.#results.get(message);
    if (results === undefined) {
      results = [];
      this.#results.set(message, results);
    }
    if (!results.some((r) => r.base === base)) results.push({ base, copy, seeded: true });
  }

  /**
   * The layers `message` decodes to, decoded once for all its receivers (validation decodes
   * every message in full: a model-sized array per receiver otherwise). Only messages that
   * passed the header checks reach it, so every receiver decodes them on the same task
   * layout (the fingerprint covers it); a decoding that throws is not kept.
   */
  decoded(message: Uint8Array, decode: () => CheckedLayers): CheckedLayers {
    let hit = this.#decoded.get(message);
    if (hit === undefined) {
      hit = decode();
      this.#decoded.set(message, hit);
    }
    return hit;
  }

  /** Copies reused, and computed. */
  get stats(): { readonly hits: number; readonly misses: number } {
    return { hits: this.#hits, misses: this.#misses };
  }
}
