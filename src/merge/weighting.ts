/**
 * The representation that lets merge stages compose: a Weighting gives every candidate a
 * non-negative weight per merged layer, either one scalar for the whole layer or one
 * weight per class (per position along the layer's last axis, for the output kernel's
 * columns and the bias entries). Own always has weight 1. Integrators produce a
 * Weighting, adjusters (L-DAWA) rescale it, and `combine` turns it into weights:
 *
 *   x_new = (x_own + sum_j w_j * x_j) / (1 + sum_j w_j)      (per layer / per class column)
 */
import type { Layer, Weights } from '../model/weights.ts';
import { addColumnWeighted, addWeighted, TILE } from './accumulate.ts';
import type { UsedCandidate } from './report.ts';
import type { Candidate } from './types.ts';
import { assemble } from './vectors.ts';

export type LayerWeight =
  | { readonly kind: 'scalar'; readonly value: number }
  /** values[c] weighs every element whose last-axis index is c (length = last dimension). */
  | { readonly kind: 'per-class'; readonly values: Float64Array };

export interface Weighting {
  readonly candidates: readonly Candidate[];
  /** Indices (into own) of the merged layers. */
  readonly layers: readonly number[];
  /** weights[j][p]: candidate j's weight for layer layers[p]. */
  readonly weights: readonly (readonly LayerWeight[])[];
}

/** A weight usable in a sum: finite and >= 0, anything else counts as 0. */
function safe(w: number): number {
  return w > 0 && Number.isFinite(w) ? w : 0;
}

export function scalar(value: number): LayerWeight {
  return { kind: 'scalar', value: safe(value) };
}

/** Every candidate weighs `weightOf(candidate)` on every merged layer. */
export function uniformWeighting(
  candidates: readonly Candidate[],
  layers: readonly number[],
  weightOf: (c: Candidate, j: number) => number,
): Weighting {
  return {
    candidates,
    layers,
    weights: candidates.map((c, j) => {
      const w = scalar(weightOf(c, j));
      return layers.map(() => w);
    }),
  };
}

/** Multiply candidate j's weight on layer p by factor(j, p). */
export function scaleWeighting(weighting: Weighting, factor: (j: number, p: number) => number): Weighting {
  return {
    ...weighting,
    weights: weighting.weights.map((row, j) =>
      row.map((w, p): LayerWeight => {
        const f = safe(factor(j, p));
        switch (w.kind) {
          case 'scalar':
            return { kind: 'scalar', value: w.value * f };
          case 'per-class':
            return { kind: 'per-class', values: w.values.map((v) => safe(v * f)) };
          default: {
            const never: never = w;
            throw new Error(`unhandled layer weight ${JSON.stringify(never)}`);
          }
        }
      }),
    ),
  };
}

function lastDim(l: Layer): number {
  return l.shape.length === 0 ? 1 : l.shape[l.shape.length - 1];
}

/**
 * One merged layer of `combine`: own plus every weighted candidate over the totals, in one
 * pass over the candidates per tile of values (src/merge/accumulate.ts), no model-sized
 * float64 accumulator. Candidates are added in order; a zero scalar weight adds nothing
 * and is skipped.
 */
function combineLayer(own: Weights, weighting: Weighting, p: number): Float32Array {
  const index = weighting.layers[p];
  const ownLayer = own[index];
  const n = ownLayer.values.length;
  const cols = lastDim(ownLayer);
  const total = new Float64Array(cols).fill(1);
  const xs: Float32Array[] = [];
  const scalars: number[] = [];
  const columns: (Float64Array | undefined)[] = [];
  for (let j = 0; j < weighting.candidates.length; j++) {
    const x = weighting.candidates[j].weights[index].values;
    const w = weighting.weights[j][p];
    switch (w.kind) {
      case 'scalar': {
        const s = safe(w.value);
        if (s === 0) break;
        xs.push(x);
        scalars.push(s);
        columns.push(undefined);
        for (let c = 0; c < cols; c++) total[c] = total[c] + s;
        break;
      }
      case 'per-class': {
        if (w.values.length !== cols) {
          throw new RangeError(`layer ${ownLayer.name}: ${w.values.length} class weights for last axis ${cols}`);
        }
        const wc = w.values.map(safe);
        xs.push(x);
        scalars.push(Number.NaN);
        columns.push(wc);
        for (let c = 0; c < cols; c++) total[c] = total[c] + wc[c];
        break;
      }
      default: {
        const never: never = w;
        throw new Error(`unhandled layer weight ${JSON.stringify(never)}`);
      }
    }
  }
  // All scalar (hidden layers): the plain loop. Otherwise every term as weights per column.
  const perColumn = columns.some((c) => c !== undefined)
    ? columns.map((c, j) => c ?? new Float64Array(cols).fill(scalars[j]))
    : undefined;
  const base = ownLayer.values;
  const out = new Float32Array(n);
  const acc = new Float64Array(Math.min(n, TILE));
  for (let start = 0; start < n; start += TILE) {
    const len = Math.min(TILE, n - start);
    for (let e = 0; e < len; e++) acc[e] = base[start + e];
    if (perColumn === undefined) addWeighted(acc, xs, scalars, start, len);
    else addColumnWeighted(acc, xs, perColumn, cols, start, len);
    for (let e = 0, c = start % cols; e < len; e++) {
      out[start + e] = acc[e] / total[c];
      if (++c === cols) c = 0;
    }
  }
  return out;
}

/** Apply the weighting: merged layers averaged with own (weight 1), other layers copied from own. */
export function combine(own: Weights, weighting: Weighting): Weights {
  const position = new Map(weighting.layers.map((index, p) => [index, p]));
  return assemble(own, weighting.layers, (index) => combineLayer(own, weighting, position.get(index) as number));
}

/**
 * Each candidate's share of the result, w / (1 + sum w) averaged over merged parameters
 * (a per-class weight counts for the parameters of its column).
 */
export function shares(own: Weights, weighting: Weighting): { ownShare: number; used: UsedCandidate[] } {
  const m = weighting.candidates.length;
  const acc = new Float64Array(m);
  let ownAcc = 0;
  let params = 0;
  weighting.layers.forEach((index, p) => {
    const l = own[index];
    const cols = lastDim(l);
    const perCol = l.values.length / cols;
    for (let c = 0; c < cols; c++) {
      let total = 1;
      const wc = new Float64Array(m);
      for (let j = 0; j < m; j++) {
        const w = weighting.weights[j][p];
        wc[j] = safe(w.kind === 'scalar' ? w.value : w.values[c]);
        total += wc[j];
      }
      for (let j = 0; j < m; j++) acc[j] = acc[j] + (wc[j] / total) * perCol;
      ownAcc += perCol / total;
    }
    params += l.values.length;
  });
  if (params === 0)
    return { ownShare: 1, used: weighting.candidates.map((c) => ({ peer: c.peer, seq: c.seq, share: 0 })) };
  return {
    ownShare: ownAcc / params,
    used: weighting.candidates.map((c, j) => ({ peer: c.peer, seq: c.seq, share: acc[j] / params })),
  };
}
