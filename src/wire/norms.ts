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
 *
 * A limit is never below `floorRms` x sqrt(layer size): a layer whose values have an RMS
 * of at most `floorRms` is never out-of-range by its norm. Without that floor, layers
 * whose norms sit near zero (biases; the steps of a peer that has converged) got limits
 * from noise: in the three-daemon mesh test, a daemon that had trained alone on an easy
 * task rejected its new neighbours' first updates and snapshots as out-of-range, its
 * score dropped them below gossipsub's graylist, and no update flowed in either direction.
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
  /** Every limit is at least floorRms x sqrt(layer size). Default DEFAULT_NORM_FLOOR_RMS. */
  readonly floorRms?: number;
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
/**
 * RMS of a layer's values below which its norm is never out-of-range. Weights initialised
 * by Glorot have an RMS of 0.04-0.09 in the default MLP, so the floor stays below twice an
 * initial kernel's norm and the factor x median decides for every trained kernel; scaled
 * or blown-up layers are far above it, and the absolute value bound applies regardless.
 */
export const DEFAULT_NORM_FLOOR_RMS = 0.1;

/** What validation reads: the current limit for a layer, or undefined while warming up. */
export interface NormLimits {
  limit(kind: NormKind, layer: number): number | undefined;
}

/** L2 norm of each layer, in float64. */
export function layerNorms(w: Weights): Float64Array {
  const out = new Float64Array(w.length);
  for (let l = 0; l < w.length; l++) {
    const v = w[l].values;
    let s = 0;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
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
  return n % 2 === 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
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
  readonly floorRms: number;
  /** Values per layer. */
  readonly #sizes: readonly number[];
  readonly #kinds: Record<NormKind, KindState> = {
    delta: { last: new Map(), observations: 0, limits: undefined },
    model: { last: new Map(), observations: 0, limits: undefined },
  };

  /** `sizes`: the number of values of each layer, in the task's layer order. */
  constructor(sizes: readonly number[], options: NormBoundOptions = {}) {
    this.#sizes = [...sizes];
    this.factor = options.factor ?? DEFAULT_NORM_FACTOR;
    this.deltaFactor = options.deltaFactor ?? DEFAULT_DELTA_NORM_FACTOR;
    this.warmup = options.warmup ?? DEFAULT_NORM_WARMUP;
    this.maxSenders = options.maxSenders ?? DEFAULT_NORM_SENDERS;
    this.floorRms = options.floorRms ?? DEFAULT_NORM_FLOOR_RMS;
    if (!(this.floorRms >= 0 && Number.isFinite(this.floorRms))) {
      throw new RangeError(`norm floorRms must be a finite number >= 0, got ${this.floorRms}`);
    }
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
    if (norms.length !== this.#sizes.length) {
      throw new RangeError(`${norms.length} norms for ${this.#sizes.length} layers`);
    }
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

  /**
   * factor x the median of the senders' latest norms, but at least floorRms x sqrt(size);
   * undefined while warming up (or when the median is 0).
   */
  limit(kind: NormKind, layer: number): number | undefined {
    const state = this.#kinds[kind];
    const layers = this.#sizes.length;
    if (state.observations < this.warmup || layer < 0 || layer >= layers) return undefined;
    if (state.limits === undefined) {
      state.limits = new Float64Array(layers);
      for (let l = 0; l < layers; l++) {
        const m = median([...state.last.values()].map((n) => n[l]));
        const floor = this.floorRms * Math.sqrt(this.#sizes[l]);
        state.limits[l] = m > 0 ? Math.max((kind === 'delta' ? this.deltaFactor : this.factor) * m, floor) : Number.NaN;
      }
    }
    const value = state.limits[layer];
    return Number.isNaN(value) ? undefined : value;
  }

  forget(sender: string): void {
    for (const state of Object.values(this.#kinds)) {
      if (state.last.delete(sender)) state.limits = undefined;
    }
  }
}
