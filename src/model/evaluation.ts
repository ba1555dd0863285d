/**
 * What trainers, models and merge rules share about evaluating a model: its output layer
 * and its per-class scores. A leaf of the core, so train/ and model/ need not import merge/.
 */
import type { Weights } from './weights.ts';

/** Per-class scores of a model on a validation split (in merge rules: the merging peer's own). */
export interface ClassScores {
  /** F1 per class, length numClasses; classes absent from the validation split score 0. */
  readonly f1: Float64Array;
  /** Accuracy (recall) per class, length numClasses. */
  readonly accuracy: Float64Array;
  readonly overallAccuracy: number;
  readonly loss: number;
  /**
   * Optional: the cross-entropy of each validation sample, in the split's order (its mean
   * is `loss`). Rules that score parts of V (MergeContext.validationSplit) read it; without
   * it they score all of V.
   */
  readonly sampleLoss?: Float32Array;
  /** Optional: each validation sample's logits, flat [samples x numClasses], in the split's order. */
  readonly sampleLogits?: Float32Array;
}

/** Which layers form the output layer; its class axis is the last axis of `kernel`. */
export interface OutputLayer {
  /** Layer name of the output kernel, shape [..., numClasses]. */
  readonly kernel: string;
  /** Layer name of the output bias, shape [numClasses], if the model has one. */
  readonly bias?: string;
}

/**
 * Scoring split at a model's first layer (Model.linearInput), offered to merges that score
 * many linear mixes of the same models (leave-group-out, src/merge/mix.ts): with P(w) = X K_w
 * the first layer's pre-activation on the validation inputs X, a mix
 * own + sum_j c_j (x_j - own) has P = P(own) + sum_j c_j (P(x_j) - P(own)), so the largest
 * matrix product runs once per model, not once per mix.
 */
export interface LinearInputEvaluator {
  /** Layer name of the first layer's kernel. */
  readonly kernel: string;
  /**
   * P = X K for a kernel's values, flat [validation samples x units]. Memoized by the
   * values array (callers must not change an array they passed), so each model's product
   * runs once per merge.
   */
  project(kernel: Float32Array): Float32Array;
  /** Scores of the model whose first-layer pre-activation is `p` and whose other layers are `w`'s (w's kernel is not read). */
  evaluateProjected(p: Float32Array, w: Weights): ClassScores;
}
