/**
 * Parts of a merging peer's validation set V (MergeContext.validationSplit): its own
 * (private) samples, which no other peer knows, and the task's public set, which every
 * peer knows, attackers included. A part's loss comes from the per-sample losses of
 * ClassScores; without them (an evaluator that does not fill them) it is V's.
 */
import type { ClassScores, ValidationSplit } from './types.ts';

export interface ValidationParts {
  /** Sample indices of the private part, and of the private part per class present in it. */
  readonly private: readonly number[];
  readonly privateByClass: ReadonlyMap<number, readonly number[]>;
  readonly public: readonly number[];
  readonly labels: ArrayLike<number>;
}

/** V's parts, or undefined without a split or without a private sample. */
export function validationParts(split: ValidationSplit | undefined): ValidationParts | undefined {
  if (split === undefined) return undefined;
  const n = split.labels.length;
  const count = Math.max(0, Math.min(n, Math.floor(split.privateCount)));
  if (count === 0) return undefined;
  const priv = Array.from({ length: count }, (_, i) => i);
  const byClass = new Map<number, number[]>();
  for (const i of priv) {
    const c = split.labels[i] as number;
    const list = byClass.get(c);
    if (list === undefined) byClass.set(c, [i]);
    else list.push(i);
  }
  return {
    private: priv,
    privateByClass: byClass,
    public: Array.from({ length: n - count }, (_, i) => count + i),
    labels: split.labels,
  };
}

/**
 * Mean cross-entropy over the samples `indices` (non-finite: +Infinity, the worst); V's
 * loss when the scores carry no per-sample losses or `indices` is empty.
 */
export function partLoss(scores: ClassScores, indices: readonly number[]): number {
  const per = scores.sampleLoss;
  if (per === undefined || indices.length === 0) {
    return Number.isFinite(scores.loss) ? scores.loss : Number.POSITIVE_INFINITY;
  }
  let sum = 0;
  for (const i of indices) sum += per[i] as number;
  const mean = sum / indices.length;
  return Number.isFinite(mean) ? mean : Number.POSITIVE_INFINITY;
}

/**
 * Generalized cross-entropy (Zhang & Sabuncu 2018) over V: the mean of (1 - p^q) / q, with
 * p = exp(-CE) the probability a model gives a sample's true label. q -> 0 is the
 * cross-entropy; q = 1 is one minus the mean probability of the true label, which a few
 * confidently wrong samples do not dominate: an infinite loss adds at most 1 / q. NaN
 * without per-sample losses; +Infinity (the worst) when a loss is NaN.
 */
export function generalizedCrossEntropy(scores: ClassScores, q: number): number {
  if (!(q > 0 && q <= 1)) throw new RangeError(`generalized cross-entropy: q must be in (0, 1], got ${q}`);
  const per = scores.sampleLoss;
  if (per === undefined || per.length === 0) return Number.NaN;
  let sum = 0;
  for (const l of per) sum += (1 - Math.exp(-q * l)) / q;
  const mean = sum / per.length;
  return Number.isFinite(mean) ? mean : Number.POSITIVE_INFINITY;
}
