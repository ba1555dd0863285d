/**
 * Bristle performance-based integrator.
 * Verbraeken, de Vos, Pouwelse, 2021. https://arxiv.org/abs/2110.11006
 *
 * Own model (f_0) and each candidate (f_j) are scored per class (F1) on this peer's
 * validation split via ctx.evaluate. Over the familiar classes (ctx.familiarClasses):
 *  - S_j: j's top-phi familiar classes by f_j^c; certainty c_j = max(0, mean - std) over
 *    S_j (population std);
 *  - D = 10 |f_j^c - f_0^c|; score_jc = D^(3 + f_0^c) if f_j^c > f_0^c else -D^(4 + f_0^c);
 *  - familiar weight w_jc = c_j * max(0, 10 sigmoid(max(-100, score_jc) / 100) - 4);
 *  - foreign weight omega_j = c_j * max(0, 10 sigmoid(sum_c score_jc / 100) - 4) (unclamped sum).
 * Output layer (kernel columns along its last axis, and bias entries): familiar class c
 * uses w_jc, foreign classes use omega_j.
 *
 * meshfl: hidden (non-output) merged layers use omega_j as the candidate's whole-model
 * weight (the paper trains only the output layer).
 * meshfl (`foreignScore: 'selected'`, default): omega_j = c'_j * max(0, 10 sigmoid(m/100) - 4)
 * with S'_j the candidate's `foreignPhi` (1) best familiar classes, c'_j the certainty over
 * S'_j and m the mean of the clamped scores over S'_j. The paper's unclamped sum over all
 * familiar classes zeroes omega_j whenever a neighbour lacks even one of our classes
 * (F1 0 there gives a score near -6e4), which under class-sharded non-i.i.d. data is every
 * neighbour: foreign columns and hidden layers then never merge and peers stay at their
 * own classes (measured: docs/RESULTS.md, "History"). Scoring
 * on the class the candidate is best at among ours keeps good-but-different neighbours (they
 * share at least one class with us) and still gives models that fail on our data (label
 * flippers, noise) certainty ~0.
 * `foreignScore: 'familiar-sum'` keeps the paper's rule. With fewer than phi familiar classes,
 * S_j is all of them; with none, c_j = 0 and only own is kept. Ties in f_j^c break by class
 * index. Evaluation is the expensive part: one ctx.evaluate per candidate plus one for own.
 * A candidate is evaluated as it would be merged: its merged layers on top of own's other
 * (frozen) layers, so whatever it sends in layers that are never merged cannot sway its score.
 */
import type { Weights } from '../model/weights.ts';
import { type OptionsSpec, type Parsed, parseOptions } from './options.ts';
import type { Integrator } from './pipeline.ts';
import type { MergeContext } from './types.ts';
import { type LayerWeight, scalar } from './weighting.ts';

export const BRISTLE_PERFORMANCE_SPEC = {
  phi: { kind: 'number', default: 3, min: 1, integer: true, doc: 'familiar classes used for certainty' },
  foreignScore: {
    kind: 'choice',
    default: 'selected',
    values: ['selected', 'certainty', 'familiar-sum'],
    doc: "score behind omega_j: 'selected' = certainty x weight of the mean clamped score over the candidate's foreignPhi best familiar classes (meshfl); 'certainty' = that certainty alone; 'familiar-sum' = the paper's unclamped sum over all familiar classes",
  },
  foreignPhi: {
    kind: 'number',
    default: 1,
    min: 1,
    integer: true,
    doc: "with foreignScore 'selected': how many of the candidate's best familiar classes set omega_j",
  },
} as const satisfies OptionsSpec;

export type ForeignScore = 'selected' | 'certainty' | 'familiar-sum';

export type BristlePerformanceOptions = Parsed<typeof BRISTLE_PERFORMANCE_SPEC>;

/** Lower clamp of a per-class score before it becomes a per-class weight. */
export const SCORE_FLOOR = -100;
/** Scale inside the sigmoid and the affine map 10*sigmoid - 4 (neutral 1, max 6). */
const SIGMOID_SCALE = 100;
const WEIGHT_GAIN = 10;
const WEIGHT_OFFSET = 4;

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Bristle's map from a score to a weight multiplier: max(0, 10 sigmoid(s/100) - 4). */
export function scoreToWeight(score: number): number {
  return Math.max(0, WEIGHT_GAIN * sigmoid(score / SIGMOID_SCALE) - WEIGHT_OFFSET);
}

/** Per-class score of candidate F1 fj against own F1 f0 for one class. */
export function classScore(fj: number, f0: number): number {
  const D = 10 * Math.abs(fj - f0);
  return fj > f0 ? D ** (3 + f0) : -(D ** (4 + f0));
}

/** S_j: the candidate's top-phi familiar classes by its F1 (ties by class index). */
export function selectedClasses(fj: Float64Array, familiar: readonly number[], phi: number): number[] {
  return [...familiar].sort((x, y) => fj[y] - fj[x] || x - y).slice(0, phi);
}

/** c_j = max(0, mean - population std) of the candidate's top-phi familiar F1 scores. */
export function certainty(fj: Float64Array, familiar: readonly number[], phi: number): number {
  const top = selectedClasses(fj, familiar, phi).map((c) => fj[c]);
  if (top.length === 0) return 0;
  const mean = top.reduce((s, v) => s + v, 0) / top.length;
  const variance = top.reduce((s, v) => s + (v - mean) ** 2, 0) / top.length;
  return Math.max(0, mean - Math.sqrt(variance));
}

export interface BristleCandidateWeights {
  readonly certainty: number;
  /** Weight per class; familiar classes hold w_jc, foreign ones omega_j. */
  readonly perClass: Float64Array;
  /** omega_j: foreign-class and whole-model weight. */
  readonly omega: number;
}

/** Bristle's weights for one candidate from its and own's per-class F1. */
export function bristleWeights(
  fj: Float64Array,
  f0: Float64Array,
  familiar: readonly number[],
  numClasses: number,
  phi: number,
  foreignScore: ForeignScore = 'selected',
  foreignPhi = 1,
): BristleCandidateWeights {
  const c = certainty(fj, familiar, phi);
  let sum = 0;
  const familiarWeight = new Map<number, number>();
  const clamped = new Map<number, number>();
  for (const k of familiar) {
    const s = classScore(fj[k], f0[k]);
    sum += s;
    clamped.set(k, Math.max(SCORE_FLOOR, s));
    familiarWeight.set(k, c * scoreToWeight(Math.max(SCORE_FLOOR, s)));
  }
  let omega: number;
  if (foreignScore === 'familiar-sum') {
    omega = c * scoreToWeight(sum);
  } else if (foreignScore === 'certainty') {
    omega = certainty(fj, familiar, foreignPhi);
  } else {
    const selected = selectedClasses(fj, familiar, foreignPhi);
    const mean = selected.reduce((acc, k) => acc + (clamped.get(k) as number), 0) / Math.max(1, selected.length);
    omega = selected.length === 0 ? 0 : certainty(fj, familiar, foreignPhi) * scoreToWeight(mean);
  }
  const perClass = new Float64Array(numClasses);
  for (let k = 0; k < numClasses; k++) perClass[k] = familiarWeight.get(k) ?? omega;
  return { certainty: c, perClass, omega };
}

/** Scores from an evaluator are untrusted numbers: non-finite F1 counts as 0. */
function finiteF1(f1: Float64Array): Float64Array {
  return f1.map((v) => (Number.isFinite(v) ? v : 0));
}

/** Own's layers with the candidate's merged layers in place (no copies). */
export function graft(own: Weights, candidate: Weights, layers: readonly number[]): Weights {
  if (layers.length === own.length) return candidate;
  const merged = new Set(layers);
  return own.map((l, i) => (merged.has(i) ? candidate[i] : l));
}

function checkOutputLayer(own: Weights, ctx: MergeContext): void {
  for (const name of [ctx.outputLayer.kernel, ctx.outputLayer.bias]) {
    if (name === undefined) continue;
    const l = own.find((x) => x.name === name);
    if (l === undefined) throw new RangeError(`bristle: output layer "${name}" is not in the model`);
    if (l.shape[l.shape.length - 1] !== ctx.numClasses) {
      throw new RangeError(`bristle: last axis of "${name}" is ${l.shape.at(-1)}, expected ${ctx.numClasses} classes`);
    }
  }
  for (const k of ctx.familiarClasses) {
    if (!Number.isInteger(k) || k < 0 || k >= ctx.numClasses)
      throw new RangeError(`bristle: familiar class ${k} out of range`);
  }
}

export function bristlePerformance(options: Partial<BristlePerformanceOptions> = {}): Integrator {
  const { phi, foreignScore, foreignPhi } = parseOptions('bristle-performance', BRISTLE_PERFORMANCE_SPEC, options);
  return (own, candidates, ctx, layers) => {
    checkOutputLayer(own, ctx);
    const classWise = new Set([ctx.outputLayer.kernel, ctx.outputLayer.bias]);
    const f0 = finiteF1(ctx.evaluate(own).f1);
    const weights = candidates.map((cand): LayerWeight[] => {
      const fj = finiteF1(ctx.evaluate(graft(own, cand.weights, layers)).f1);
      const b = bristleWeights(
        fj,
        f0,
        ctx.familiarClasses,
        ctx.numClasses,
        phi,
        foreignScore as ForeignScore,
        foreignPhi,
      );
      const whole = scalar(b.omega);
      const columns: LayerWeight = { kind: 'per-class', values: b.perClass };
      return layers.map((i) => (classWise.has(own[i].name) ? columns : whole));
    });
    return { candidates, layers, weights };
  };
}
