/**
 * Public copies shared read-only between the receivers of one process (simulations of
 * many peers). A sender's public copy is the same at every receiver, bit for bit (CHOCO
 * sequencing, public-copies.ts), so in one process it is computed once and every receiver
 * holds the same arrays instead of a dense copy each.
 *
 * Keyed by object identity: the result of a message is reused only for the very same
 * message bytes object applied on the very same base copy object, so a sender that sends
 * different bytes to different receivers (equivocation) gets no receiver the other's
 * copy. The in-process Bus hands every receiver the same bytes object. Over libp2p (many
 * nodes in one process) each receiver has its own bytes: `canonical` maps them to the
 * first object seen from that sender with exactly the same bytes (compared in full, never
 * by a hash), so those receivers share too, and different bytes still share nothing.
 *
 * Shared weights must never be written to (nothing in src/wire or src/merge writes to a
 * candidate's values).
 *
 * The sender's own encoder computes the same copy when it encodes (x̂, PublicCopyEncoder):
 * a Peer of this process seeds that copy for its message bytes (`seed`), so a sender's
 * public copy is held once in the process, by its encoder and every receiver alike; and
 * the encoder's own decoding of the bytes (`seedDecoded`), so no receiver decodes them.
 * Receivers still check what addDelta would have checked (`verify`).
 */
import { floatBitsMaxAbs } from '../model/float-bits.ts';
import type { Weights } from '../model/weights.ts';
import type { CheckedLayers } from './message.ts';
import { layerNorms } from './norms.ts';
import { checkReconstruction } from './reconstruct.ts';

interface Result {
  readonly base: Weights | undefined;
  readonly copy: Weights;
  /** Put here by its sender (seed), not computed by a receiver. */
  readonly seeded: boolean;
}

/** Recent message objects remembered per sender for `canonical` (a round's pushes and a snapshot). */
const RECENT_PER_SENDER = 6;

/** Equal contents (lengths, then the header, then every byte). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  const n = a.byteLength;
  if (n !== b.byteLength) return false;
  // The header (seq, base, kind) differs first between a sender's messages.
  const head = Math.min(n, 32);
  for (let i = 0; i < head; i++) if (a[i] !== b[i]) return false;
  // Word by word where both are 4-byte aligned (received bytes are views at any offset).
  let i = head;
  if ((a.byteOffset + i) % 4 === 0 && (b.byteOffset + i) % 4 === 0) {
    const words = (n - i) >>> 2;
    const wa = new Uint32Array(a.buffer, a.byteOffset + i, words);
    const wb = new Uint32Array(b.buffer, b.byteOffset + i, words);
    for (let k = 0; k < words; k++) if (wa[k] !== wb[k]) return false;
    i += words * 4;
  }
  for (; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** map's value for key, computed (and kept) on the first ask. A computation that throws keeps nothing. */
function remembered<K extends object, V>(map: WeakMap<K, V>, key: K, compute: () => V): V {
  let hit = map.get(key);
  if (hit === undefined) {
    hit = compute();
    map.set(key, hit);
  }
  return hit;
}

export class SharedCopies {
  /** Per sender, the message objects `canonical` and `seed` saw last (weakly: they live as their bytes do). */
  readonly #recent = new Map<string, WeakRef<Uint8Array>[]>();
  #canonicalHits = 0;
  /** Entries live as long as the message bytes do; the copies as long as a receiver holds them. */
  readonly #results = new WeakMap<Uint8Array, Result[]>();
  /** Layer norms by (read-only) layer set. */
  readonly #norms = new WeakMap<Weights, Float64Array>();
  /** Checks passed by a (read-only) layer set: the smallest value bound it was checked against. */
  readonly #within = new WeakMap<Weights, number>();
  /** Reconstruction checks passed, by copy then delta: the bound and the norms of the result. */
  readonly #reconstructions = new WeakMap<Weights, WeakMap<Weights, { bound: number; norms: Float64Array }>>();
  /** floatBitsMaxAbs by (read-only) array. */
  readonly #maxAbsBits = new WeakMap<Float32Array, number>();
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
   * The object to key `message` from `sender` by: an earlier object from the same sender
   * with exactly the same bytes (its sender's, if it seeded them), else `message` itself,
   * remembered for the next receivers. Over a transport that copies bytes (libp2p in one
   * process) this is what lets receivers share; on the Bus it returns `message`.
   */
  canonical(sender: string, message: Uint8Array): Uint8Array {
    const recent = this.#recent.get(sender);
    if (recent !== undefined) {
      for (const ref of recent) {
        const seen = ref.deref();
        if (seen === message) return seen;
      }
      for (const ref of recent) {
        const seen = ref.deref();
        if (seen !== undefined && sameBytes(seen, message)) {
          this.#canonicalHits++;
          return seen;
        }
      }
    }
    this.#remember(sender, message);
    return message;
  }

  #remember(sender: string, message: Uint8Array): void {
    const recent = (this.#recent.get(sender) ?? []).filter((ref) => {
      const seen = ref.deref();
      return seen !== undefined && seen !== message;
    });
    recent.push(new WeakRef(message));
    if (recent.length > RECENT_PER_SENDER) recent.splice(0, recent.length - RECENT_PER_SENDER);
    this.#recent.set(sender, recent);
  }

  /**
   * The sender's own result for the bytes it sends: `copy` is what `message` gives on
   * `base` (its encoder's x̂ after and before; base undefined for a keyframe or snapshot).
   * With `sender` (its id), receivers' copies of these bytes map to them (`canonical`).
   */
  seed(message: Uint8Array, base: Weights | undefined, copy: Weights, sender?: string): void {
    if (sender !== undefined) this.#remember(sender, message);
    let results = this.#results.get(message);
    if (results === undefined) {
      results = [];
      this.#results.set(message, results);
    }
    if (!results.some((r) => r.base === base)) results.push({ base, copy, seeded: true });
  }

  /**
   * The sender's own decoding of the bytes it sends (PublicCopyEncoder decodes them to keep
   * its x̂ equal to the receivers'): the same function of the same bytes on the same task
   * layout as a receiver's, so receivers take it instead of decoding again.
   */
  seedDecoded(message: Uint8Array, checked: CheckedLayers): void {
    if (!this.#decoded.has(message)) this.#decoded.set(message, checked);
  }

  /**
   * The layers `message` decodes to, decoded once for all its receivers (validation decodes
   * every message in full: a model-sized array per receiver otherwise). Only messages that
   * passed the header checks reach it, so every receiver decodes them on the same task
   * layout (the fingerprint covers it); a decoding that throws is not kept.
   */
  decoded(message: Uint8Array, decode: () => CheckedLayers): CheckedLayers {
    return remembered(this.#decoded, message, decode);
  }

  /**
   * layerNorms of `w`, computed once per layer set (every receiver of a shared message or
   * copy asks for the same norms). `w` must be read-only, as everything shared here is.
   */
  layerNorms(w: Weights): Float64Array {
    return remembered(this.#norms, w, () => layerNorms(w));
  }

  /**
   * Runs `check` (which throws, or returns a reason, when a value of `w` is outside
   * [-bound, bound] or not finite) unless `w` already passed it at this bound or a smaller
   * one (a pass at b holds at every b' >= b). Failures are not remembered.
   */
  within<T>(w: Weights, bound: number, check: () => T | undefined): T | undefined {
    const passed = this.#within.get(w);
    if (passed !== undefined && passed <= bound) return undefined;
    const problem = check();
    if (problem === undefined) this.#within.set(w, Math.min(passed ?? bound, bound));
    return problem;
  }

  /**
   * floatBitsMaxAbs(values), computed once per array: what the merge guard scans of every
   * candidate at every merge (MergeContext.scans). `values` must be read-only, as every
   * copy shared here is.
   */
  maxAbsBits(values: Float32Array): number {
    return remembered(this.#maxAbsBits, values, () => floatBitsMaxAbs(values));
  }

  /** checkReconstruction(copy, delta, bound), once per (copy, delta) pair passed at this bound or a smaller one. */
  reconstruction(copy: Weights, delta: Weights, bound: number): Float64Array {
    let byDelta = this.#reconstructions.get(copy);
    const hit = byDelta?.get(delta);
    if (hit !== undefined && hit.bound <= bound) return hit.norms;
    const norms = checkReconstruction(copy, delta, bound);
    if (byDelta === undefined) {
      byDelta = new WeakMap();
      this.#reconstructions.set(copy, byDelta);
    }
    byDelta.set(delta, { bound: Math.min(hit?.bound ?? bound, bound), norms });
    return norms;
  }

  /** Copies reused, and computed. */
  get stats(): { readonly hits: number; readonly misses: number } {
    return { hits: this.#hits, misses: this.#misses };
  }

  /** Received bytes that `canonical` mapped to an equal earlier object. */
  get canonicalHits(): number {
    return this.#canonicalHits;
  }
}
