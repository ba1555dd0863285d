/**
 * Per-layer norm limits learned from accepted updates: a receiver rejects (as
 * 'out-of-range') any layer whose norm exceeds a factor (`factor` for models,
 * `deltaFactor` for deltas) x the median of the norms it has accepted for that layer, once
 * it has seen `warmup` of them.
 *
 * Two kinds of norm are tracked separately, because they measure different things:
 * - 'delta': ||q|| of a delta message's layer (the step the sender's public copy takes);
 * - 'model': ||x|| of a layer of a whole model (a keyframe, or the copy a delta produces).
 *   A keyframe's "update" is the full model; comparing it with the copy we held of its
 *   sender would reject an honest peer that restarted from the initial model, so its norm
 *   is compared with other models' norms instead.
 *
 * The median runs over the latest accepted norm of each sender (and of this peer itself,
 * whose own updates are trusted), not over all messages: one sender, however chatty,
 * holds one vote, so a flood of tiny updates cannot drag the median down and get honest
 * peers rejected. Senders are kept in insertion order up to `maxSenders`.
 */
import type { Weights } from '../model/weights.ts';

export type NormKind = 'delta' | 'model';

export interface NormBoundOptions {
  /** A model layer norm above factor x the running median is rejected. Default DEFAULT_NORM_FACTOR. */
  readonly factor?: number;
  /** The same for delta layer norms. Default DEFAULT_DELTA_NORM_FACTOR. */
  readonly deltaFactor?: number;
  /** Accepted observations of a (kind, layer) before its limit applies. Default DEFAULT_NORM_WARMUP. */
  readonly warmup?: number;
  /** Senders remembered (oldest dropped first). Default DEFAULT_NORM_SENDERS. */
  readonly maxSenders?: number;
}

/** Generous for whole models: honest peers' layer norms stay within ~2-3x of each other. */
export const DEFAULT_NORM_FACTOR = 10;
/**
 * Much wider for deltas: how far a peer moves in a round depends on its data. Measured in
 * the browser e2e test (default task): pages that had fitted their small shards sent deltas
 * of ~0.07 while the daemons, on 15k-sample shards, sent 2-2.7, 34x the median; at 10x the
 * pages refused every daemon update. The absolute value bound (bounds.ts) and the merge's
 * clipping stop blow-ups within this factor.
 */
export const DEFAULT_DELTA_NORM_FACTOR = 1000;
/** Observations (own and neighbours' accepted updates) before a limit applies. */
export const DEFAULT_NORM_WARMUP = 8;
export const DEFAULT_NORM_SENDERS = 256;

/** What validation reads: the current limit for a layer, or undefined while warming up. */
export interface NormLimits {
  limit(kind: NormKind, layer: number): number | undefined;
}

/** L2 norm of each layer, in float64. */
export function layerNorms(w: Weights): Float64Array {
  const out = new Float64Array(w.length);
  for (let l = 0; l < w.length; l++) {
    const v = (w[l] as Weights[number]).values;
    let s = 0;
    for (let i = 0; i < v.length; i++) {
      const x = v[i] as number;
      s += x * x;
    }
    out[l] = Math.sqrt(s);
  }
  return out;
}

function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const n = values.length;
  const mid = n >> 1;
  return n % 2 === 1 ? (values[mid] as number) : ((values[mid - 1] as number) + (values[mid] as number)) / 2;
}

interface KindState {
  /** sender -> latest accepted norms per layer. */
  readonly last: Map<string, Float64Array>;
  observations: number;
  /** Cached limits per layer, recomputed lazily after an observation. */
  limits: Float64Array | undefined;
}

export class NormTracker implements NormLimits {
  readonly factor: number;
  readonly deltaFactor: number;
  readonly warmup: number;
  readonly maxSenders: number;
  readonly #layers: number;
  readonly #kinds: Record<NormKind, KindState> = {
    delta: { last: new Map(), observations: 0, limits: undefined },
    model: { last: new Map(), observations: 0, limits: undefined },
  };

  constructor(layers: number, options: NormBoundOptions = {}) {
    this.#layers = layers;
    this.factor = options.factor ?? DEFAULT_NORM_FACTOR;
    this.deltaFactor = options.deltaFactor ?? DEFAULT_DELTA_NORM_FACTOR;
    this.warmup = options.warmup ?? DEFAULT_NORM_WARMUP;
    this.maxSenders = options.maxSenders ?? DEFAULT_NORM_SENDERS;
    if (!(this.factor > 1)) throw new RangeError(`norm factor must be > 1, got ${this.factor}`);
    if (!(this.deltaFactor > 1)) throw new RangeError(`delta norm factor must be > 1, got ${this.deltaFactor}`);
    if (!(Number.isInteger(this.warmup) && this.warmup >= 1)) {
      throw new RangeError(`norm warmup must be an integer >= 1, got ${this.warmup}`);
    }
    if (!(Number.isInteger(this.maxSenders) && this.maxSenders >= 1)) {
      throw new RangeError(`norm maxSenders must be an integer >= 1, got ${this.maxSenders}`);
    }
  }

  /** Records the layer norms of an accepted update (or of this peer's own). */
  observe(sender: string, kind: NormKind, norms: Float64Array): void {
    if (norms.length !== this.#layers) throw new RangeError(`${norms.length} norms for ${this.#layers} layers`);
    const state = this.#kinds[kind];
    state.last.delete(sender);
    state.last.set(sender, norms);
    if (state.last.size > this.maxSenders) {
      const oldest = state.last.keys().next().value as string;
      state.last.delete(oldest);
    }
    state.observations++;
    state.limits = undefined;
  }

  /** factor x the median of the senders' latest norms, or undefined (warming up, or median 0). */
  limit(kind: NormKind, layer: number): number | undefined {
    const state = this.#kinds[kind];
    if (state.observations < this.warmup || layer < 0 || layer >= this.#layers) return undefined;
    if (state.limits === undefined) {
      state.limits = new Float64Array(this.#layers);
      for (let l = 0; l < this.#layers; l++) {
        const m = median([...state.last.values()].map((n) => n[l] as number));
        state.limits[l] = m > 0 ? (kind === 'delta' ? this.deltaFactor : this.factor) * m : Number.NaN;
      }
    }
    const value = state.limits[layer] as number;
    return Number.isNaN(value) ? undefined : value;
  }

  forget(sender: string): void {
    for (const state of Object.values(this.#kinds)) {
      if (state.last.delete(sender)) state.limits = undefined;
    }
  }
}
