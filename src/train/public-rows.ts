/**
 * The task's public validation rows, scored apart from a peer's own rows, and the results
 * shared by the peers of one process.
 *
 * Why: a merge scores every candidate on V = own rows + the task's public set (most of V:
 * 100 of 140 rows in the shipped scenarios). A sender's public copy is the same read-only
 * array at every receiver in one process (SharedCopies), and the public rows are the same
 * samples, so the copy's first-layer product and its scores on those rows are the same
 * numbers at all of them: computed once, not once per receiver. A merge that scores the
 * two parts apart gives the same numbers whether the public part was shared or computed
 * here, so a daemon (one peer, nothing to share) and a simulation agree.
 */
import type { Weights } from '../model/weights.ts';

/** Scores of a run of validation rows: what ClassScores is built from. */
export interface RowsScores {
  /** Predicted class per row. */
  readonly predicted: Int32Array;
  /** The summed cross-entropy of each evaluation batch, in order (a ClassScores loss adds them). */
  readonly batchLosses: readonly number[];
  readonly sampleLoss: Float32Array;
  /** [rows x classes] */
  readonly sampleLogits: Float32Array;
}

/** What a merge's scoring may take from others for its public rows (ScoringSplit.share). */
export interface PublicRowsShare {
  /** The public rows' first-layer product by `kernel`; `compute` runs when no one has it. */
  projection(kernel: Float32Array, compute: () => Float32Array): Float32Array;
  /** The public rows' scores of the complete model `w`; `compute` runs when no one has them. */
  scores(w: Weights, compute: () => RowsScores): RowsScores;
}

/** How a merge's validation set splits: rows from `from` on are the task's public set. */
export interface ScoringSplit {
  readonly from: number;
  /** Results for the public rows computed by other peers of this process. */
  readonly share?: PublicRowsShare;
}

/** Shares nothing: every result is computed here. */
export const NOTHING_SHARED: PublicRowsShare = {
  projection: (_, compute) => compute(),
  scores: (_, compute) => compute(),
};

interface RowsSet {
  readonly x: Float32Array;
  readonly y: Uint8Array;
  /** The evaluation batch size: it sets the batches the loss sums run over. */
  readonly batch: number;
}

function sameArray<T extends Float32Array | Uint8Array>(a: T, b: T): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * One process's store. Entries are keyed by the arrays scored (weakly: they live as long as
 * the copies do) and by the row set; callers promise that what they pass as shared is never
 * written (SharedCopies' copies are not) and that every peer runs the same model spec.
 */
export class SharedPublicRows {
  readonly #sets: RowsSet[] = [];
  readonly #projections = new WeakMap<Float32Array, Map<number, Float32Array>>();
  readonly #scores = new WeakMap<Float32Array, Map<number, { arrays: Float32Array[]; scores: RowsScores }[]>>();
  #hits = 0;
  #misses = 0;

  /** The id of a row set (its features, labels and evaluation batch size), by content. */
  rowsId(x: Float32Array, y: Uint8Array, batch: number): number {
    const found = this.#sets.findIndex((s) => s.batch === batch && sameArray(s.y, y) && sameArray(s.x, x));
    if (found >= 0) return found;
    this.#sets.push({ x: Float32Array.from(x), y: Uint8Array.from(y), batch });
    return this.#sets.length - 1;
  }

  /**
   * What a merge of the row set `id` may share: results for arrays `isShared` accepts (the
   * candidates' read-only copies); anything else is computed by the caller and not kept.
   */
  share(id: number, isShared: (values: Float32Array) => boolean): PublicRowsShare {
    if (!(Number.isInteger(id) && id >= 0 && id < this.#sets.length)) throw new RangeError(`no row set ${id}`);
    return {
      projection: (kernel, compute) => {
        if (!isShared(kernel)) return compute();
        let byRows = this.#projections.get(kernel);
        if (byRows === undefined) {
          byRows = new Map();
          this.#projections.set(kernel, byRows);
        }
        return this.#remember(byRows, id, compute);
      },
      scores: (w, compute) => {
        if (w.length === 0 || !w.every((l) => isShared(l.values))) return compute();
        const key = w[0].values;
        let byRows = this.#scores.get(key);
        if (byRows === undefined) {
          byRows = new Map();
          this.#scores.set(key, byRows);
        }
        const entries = byRows.get(id) ?? [];
        const hit = entries.find((e) => e.arrays.length === w.length && e.arrays.every((a, l) => a === w[l].values));
        if (hit !== undefined) {
          this.#hits++;
          return hit.scores;
        }
        this.#misses++;
        const scores = compute();
        entries.push({ arrays: w.map((l) => l.values), scores });
        byRows.set(id, entries);
        return scores;
      },
    };
  }

  #remember<V>(map: Map<number, V>, id: number, compute: () => V): V {
    const hit = map.get(id);
    if (hit !== undefined) {
      this.#hits++;
      return hit;
    }
    this.#misses++;
    const value = compute();
    map.set(id, value);
    return value;
  }

  /** Results taken from the store and computed into it (projections and scores). */
  get stats(): { readonly hits: number; readonly misses: number } {
    return { hits: this.#hits, misses: this.#misses };
  }
}
