/**
 * Shared input check, run once before any rule's math (Flower's `_check_and_log_replies`
 * idea): candidates with another architecture, with non-finite values or with a value
 * outside the absolute bound (DEFAULT_VALUE_BOUND, src/model/bounds.ts, the same one the
 * wire applies) are dropped, so no rule can propagate NaN/Infinity or a huge finite value
 * into a merge result or a checkpoint, even when the wire bound is turned off; and only
 * the newest model per peer is kept. Sample counts are untrusted: anything not finite and
 * >= 0 counts as 0.
 */
import { DEFAULT_VALUE_BOUND } from '../model/bounds.ts';
import { floatBitsMaxAbs, floatFromBits, NON_FINITE_BITS } from '../model/float-bits.ts';
import { sameArchitecture, type Weights } from '../model/weights.ts';
import type { RejectedCandidate } from './report.ts';
import type { Candidate, MergeContext, ValueScans } from './types.ts';

export interface Admission {
  readonly admitted: readonly Candidate[];
  readonly rejected: readonly RejectedCandidate[];
}

/**
 * 'non-finite' if any value of the layers is NaN/Infinity, else 'out-of-range' if any is
 * outside +-bound. One integer pass per layer (src/model/float-bits.ts) finds max|v| and
 * spots NaN/Infinity together: this scan reads every candidate in full before any rule
 * does, so it costs as much as a mean's own arithmetic if written as float compares.
 */
function valueProblem(
  w: Weights,
  layers: readonly number[],
  bound: number,
  scans: ValueScans | undefined,
): 'non-finite' | 'out-of-range' | undefined {
  let outside = false;
  for (const i of layers) {
    const values = w[i].values;
    const maxBits = scans === undefined ? floatBitsMaxAbs(values) : scans.maxAbsBits(values);
    if (maxBits >= NON_FINITE_BITS) return 'non-finite';
    if (floatFromBits(maxBits) > bound) outside = true;
  }
  return outside ? 'out-of-range' : undefined;
}

function sanitizeSamples(c: Candidate): Candidate {
  const ok = Number.isFinite(c.samples) && c.samples >= 0;
  return ok ? c : { ...c, samples: 0 };
}

/** Indices of the layers of `own` that are merged (ctx.trainableLayers; undefined = all). */
export function mergedLayerIndices(own: Weights, ctx: Pick<MergeContext, 'trainableLayers'>): number[] {
  const out: number[] = [];
  for (let i = 0; i < own.length; i++) {
    if (ctx.trainableLayers === undefined || ctx.trainableLayers.has(own[i].name)) out.push(i);
  }
  return out;
}

/**
 * Splits candidates into admitted and rejected (with the reason). `bound` is the absolute
 * value bound on the merged layers (default DEFAULT_VALUE_BOUND; Infinity leaves only the
 * finiteness check). `scans` (MergeContext.scans) remembers scans of read-only arrays.
 */
export function admitCandidates(
  own: Weights,
  candidates: readonly Candidate[],
  layers: readonly number[],
  bound: number = DEFAULT_VALUE_BOUND,
  scans?: ValueScans,
): Admission {
  const rejected: RejectedCandidate[] = [];
  const newest = new Map<string, Candidate>();
  for (const c of candidates) {
    const problem = sameArchitecture(own, c.weights) ? valueProblem(c.weights, layers, bound, scans) : 'architecture';
    if (problem !== undefined) {
      rejected.push({ peer: c.peer, seq: c.seq, reason: problem });
    } else {
      const seen = newest.get(c.peer);
      if (seen === undefined || c.seq > seen.seq) {
        if (seen !== undefined) rejected.push({ peer: seen.peer, seq: seen.seq, reason: 'duplicate' });
        newest.set(c.peer, sanitizeSamples(c));
      } else {
        rejected.push({ peer: c.peer, seq: c.seq, reason: 'duplicate' });
      }
    }
  }
  // Keep the caller's order among admitted candidates (Map preserves first insertion).
  return { admitted: [...newest.values()], rejected };
}
