/**
 * Shared input check, run once before any rule's math (Flower's `_check_and_log_replies`
 * idea): candidates with another architecture or with non-finite values are dropped, so
 * no rule can propagate NaN/Infinity, and only the newest model per peer is kept. Sample
 * counts are untrusted: anything not finite and >= 0 counts as 0.
 */
import { type Layer, sameArchitecture, type Weights } from '../model/weights.ts';
import type { RejectedCandidate } from './report.ts';
import type { Candidate, MergeContext } from './types.ts';

export interface Admission {
  readonly admitted: readonly Candidate[];
  readonly rejected: readonly RejectedCandidate[];
}

function finiteLayers(w: Weights, layers: readonly number[]): boolean {
  for (const i of layers) {
    const v = (w[i] as Layer).values;
    for (let k = 0; k < v.length; k++) {
      // x - x is NaN exactly for NaN and +-Infinity, and is cheaper than Number.isFinite.
      const x = v[k] as number;
      if (x - x !== 0) return false;
    }
  }
  return true;
}

function sanitizeSamples(c: Candidate): Candidate {
  const ok = Number.isFinite(c.samples) && c.samples >= 0;
  return ok ? c : { ...c, samples: 0 };
}

/** Indices of the layers of `own` that are merged (ctx.trainableLayers; undefined = all). */
export function mergedLayerIndices(own: Weights, ctx: Pick<MergeContext, 'trainableLayers'>): number[] {
  const out: number[] = [];
  for (let i = 0; i < own.length; i++) {
    if (ctx.trainableLayers === undefined || ctx.trainableLayers.has((own[i] as Layer).name)) out.push(i);
  }
  return out;
}

export function admitCandidates(own: Weights, candidates: readonly Candidate[], layers: readonly number[]): Admission {
  const rejected: RejectedCandidate[] = [];
  const newest = new Map<string, Candidate>();
  for (const c of candidates) {
    if (!sameArchitecture(own, c.weights)) {
      rejected.push({ peer: c.peer, seq: c.seq, reason: 'architecture' });
    } else if (!finiteLayers(c.weights, layers)) {
      rejected.push({ peer: c.peer, seq: c.seq, reason: 'non-finite' });
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
