/** Shared fixtures for merge tests: small models, candidates and contexts. */
import { createRng } from '../../src/data/rng.ts';
import type { Candidate, ClassScores, MergeContext } from '../../src/merge/types.ts';
import { type Layer, layer, type Weights } from '../../src/model/weights.ts';

/** One-layer model named "w" holding `values`. */
export function vec(values: readonly number[]): Weights {
  return [layer('w', [values.length], values)];
}

export function cand(peer: string, weights: Weights, samples = 1, seq = 1): Candidate {
  return { peer, seq, weights, samples };
}

export function scores(f1: readonly number[]): ClassScores {
  return { f1: Float64Array.from(f1), accuracy: Float64Array.from(f1), overallAccuracy: 0, loss: 0 };
}

/** Evaluator returning fixed per-class F1 for known models (by identity), 0 otherwise. */
export function tableEvaluator(table: ReadonlyMap<Weights, readonly number[]>, numClasses: number) {
  return (w: Weights): ClassScores => scores(table.get(w) ?? new Array(numClasses).fill(0));
}

/**
 * A deterministic evaluator computed from the weights: F1 of class c is a sigmoid of the
 * mean of column c of the output kernel (last axis). Consistent across permutations and copies.
 */
export function columnEvaluator(kernel: string, numClasses: number) {
  return (w: Weights): ClassScores => {
    const l = w.find((x) => x.name === kernel) as Layer;
    const f1 = new Float64Array(numClasses);
    const rows = l.values.length / numClasses;
    for (let k = 0; k < l.values.length; k++) f1[k % numClasses] += l.values[k] / rows;
    return { f1: f1.map((s) => 1 / (1 + Math.exp(-s))), accuracy: f1, overallAccuracy: 0, loss: 0 };
  };
}

export function context(overrides: Partial<MergeContext> = {}): MergeContext {
  return {
    evaluate: () => scores([0, 0]),
    familiarClasses: [0],
    numClasses: 2,
    outputLayer: { kernel: 'w' },
    ownSamples: 1,
    round: 10,
    rng: createRng(1),
    ...overrides,
  };
}

export function values(w: Weights, index = 0): number[] {
  return Array.from(w[index].values);
}

/** A two-layer model: hidden [inputs, 3] and output kernel [3, numClasses]. */
export function twoLayer(hidden: readonly number[], out: readonly number[], numClasses: number): Weights {
  return [layer('hidden', [hidden.length / 3, 3], hidden), layer('out', [3, numClasses], out)];
}

export function assertClose(actual: readonly number[], expected: readonly number[], tol = 1e-5): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  actual.forEach((a, i) => {
    if (!(Math.abs(a - expected[i]) <= tol)) {
      throw new Error(`at ${i}: ${a} != ${expected[i]} (tol ${tol}); actual [${actual}] expected [${expected}]`);
    }
  });
}
