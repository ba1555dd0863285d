/**
 * Krum and Multi-Krum.
 * Blanchard, El Mhamdi, Guerraoui, Stainer, "Machine Learning with Adversaries: Byzantine
 * Tolerant Gradient Descent", NeurIPS 2017. https://arxiv.org/abs/1703.02757
 *
 * Over the n = 1 + candidates inputs (own included, as in decentralized Krum baselines):
 * score(i) = sum of squared L2 distances (merged layers) from input i to its n - f - 2
 * nearest other inputs. Krum returns the lowest-scoring input; Multi-Krum averages the m
 * lowest (unweighted). Options: `f` (assumed Byzantine inputs; default the largest with
 * n > 2f + 2, i.e. floor((n - 3) / 2), at least 0) and, for Multi-Krum, `m` (default
 * n - f). meshfl: the neighbour count is clamped to [1, n - 1] so small n still works;
 * ties in score keep the earlier input, with own first and candidates ordered by peer id
 * then seq, so the result does not depend on the order candidates arrived in.
 */
import type { Weights } from '../model/weights.ts';
import { guarded, inputsWithOwn } from './guarded.ts';
import { type OptionsSpec, type Parsed, parseOptions } from './options.ts';
import { rejectAll } from './report.ts';
import type { Candidate, Strategy } from './types.ts';
import { assemble, distanceSquared, weightedAverageLayer } from './vectors.ts';

export const KRUM_SPEC = {
  f: { kind: 'optional-number', min: 0, integer: true, doc: 'assumed Byzantine inputs (default floor((n-3)/2))' },
} as const satisfies OptionsSpec;

export const MULTI_KRUM_SPEC = {
  ...KRUM_SPEC,
  m: { kind: 'optional-number', min: 1, integer: true, doc: 'inputs averaged (default n - f)' },
} as const satisfies OptionsSpec;

export type KrumOptions = Parsed<typeof KRUM_SPEC>;
export type MultiKrumOptions = Parsed<typeof MULTI_KRUM_SPEC>;

export function defaultF(n: number): number {
  return Math.max(0, Math.floor((n - 3) / 2));
}

/** Krum score of every input (lower = more central). */
export function krumScores(inputs: readonly Weights[], f: number, layers: readonly number[]): Float64Array {
  const n = inputs.length;
  const d = Array.from({ length: n }, () => new Float64Array(n));
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const v = distanceSquared(inputs[a], inputs[b], layers);
      (d[a] as Float64Array)[b] = v;
      (d[b] as Float64Array)[a] = v;
    }
  }
  const k = Math.min(n - 1, Math.max(1, n - f - 2));
  const scores = new Float64Array(n);
  for (let a = 0; a < n; a++) {
    const others = Array.from(d[a] as Float64Array).filter((_, b) => b !== a);
    others.sort((x, y) => x - y);
    scores[a] = others.slice(0, k).reduce((s, v) => s + v, 0);
  }
  return scores;
}

/** Indices of the m lowest scores (stable: ties keep the lower index). */
export function lowestScores(scores: Float64Array, m: number): number[] {
  return Array.from(scores.keys())
    .sort((x, y) => scores[x] - scores[y] || x - y)
    .slice(0, m);
}

function byPeerThenSeq(x: Candidate, y: Candidate): number {
  return x.peer < y.peer ? -1 : x.peer > y.peer ? 1 : x.seq - y.seq;
}

function selectAndAverage(name: string, fOption: number | undefined, mOf: (n: number, f: number) => number): Strategy {
  return guarded(name, (own, arrived, _ctx, layers) => {
    const candidates = [...arrived].sort(byPeerThenSeq);
    const inputs = inputsWithOwn(own, candidates);
    const n = inputs.length;
    const f = fOption ?? defaultF(n);
    const m = Math.min(n, Math.max(1, mOf(n, f)));
    const chosen = lowestScores(krumScores(inputs, f, layers), m);
    const isChosen = new Set(chosen);
    const weights = inputs.map((_, k) => (isChosen.has(k) ? 1 : 0));
    const merged = assemble(own, layers, (i) => weightedAverageLayer(inputs, weights, i));
    const kept: Candidate[] = candidates.filter((_, j) => isChosen.has(j + 1));
    return {
      merged,
      ownShare: isChosen.has(0) ? 1 / m : 0,
      used: kept.map((c) => ({ peer: c.peer, seq: c.seq, share: 1 / m })),
      rejected: rejectAll(
        candidates.filter((_, j) => !isChosen.has(j + 1)),
        'not-selected',
      ),
    };
  });
}

export function krumStrategy(options: Partial<KrumOptions> = {}): Strategy {
  const { f } = parseOptions('krum', KRUM_SPEC, options);
  return selectAndAverage('krum', f, () => 1);
}

export function multiKrumStrategy(options: Partial<MultiKrumOptions> = {}): Strategy {
  const { f, m } = parseOptions('multi-krum', MULTI_KRUM_SPEC, options);
  return selectAndAverage('multi-krum', f, (n, fUsed) => m ?? n - fUsed);
}
