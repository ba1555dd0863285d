/**
 * What trainers, models and merge rules share about evaluating a model: its output layer
 * and its per-class scores. A leaf of the core, so train/ and model/ need not import merge/.
 */

/** Per-class scores of a model on a validation split (in merge rules: the merging peer's own). */
export interface ClassScores {
  /** F1 per class, length numClasses; classes absent from the validation split score 0. */
  readonly f1: Float64Array;
  /** Accuracy (recall) per class, length numClasses. */
  readonly accuracy: Float64Array;
  readonly overallAccuracy: number;
  readonly loss: number;
}

/** Which layers form the output layer; its class axis is the last axis of `kernel`. */
export interface OutputLayer {
  /** Layer name of the output kernel, shape [..., numClasses]. */
  readonly kernel: string;
  /** Layer name of the output bias, shape [numClasses], if the model has one. */
  readonly bias?: string;
}
