/**
 * The merge contract: every rule (Bristle, L-DAWA, the robust baselines) is a Strategy,
 * a pure function from our own model and our neighbours' models to our next model.
 */
import type { Rng } from '../data/rng.ts';
import type { Weights } from '../model/weights.ts';
import type { ReportSink } from './report.ts';

/** One neighbour model offered to a merge (its latest public copy). */
export interface Candidate {
  /** Sender id (libp2p peer id string, or a simulation index as string). */
  readonly peer: string;
  /** Sender's sequence number of this model. */
  readonly seq: number;
  readonly weights: Weights;
  /** Number of local training samples the sender reports (>= 0; untrusted). */
  readonly samples: number;
}

/** Per-class scores of a model on the merging peer's own validation split. */
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

export interface MergeContext {
  /** Scores a model on this peer's validation split. Synchronous; may be slow. */
  readonly evaluate: (w: Weights) => ClassScores;
  /** Classes present in this peer's own training data. */
  readonly familiarClasses: readonly number[];
  readonly numClasses: number;
  readonly outputLayer: OutputLayer;
  /** Layers that are trained and exchanged; undefined = all. Others are kept as own. */
  readonly trainableLayers?: ReadonlySet<string>;
  /** Own number of local training samples (for sample-weighted rules). */
  readonly ownSamples: number;
  /**
   * Own exchanged model at the start of this round, before local training: the origin of
   * "updates" (own's update is own - reference; a candidate's is its model - reference).
   * Rules that weigh update directions (L-DAWA in bristle+ldawa) skip that stage without it.
   */
  readonly reference?: Weights;
  /** This peer's round counter, from 0. */
  readonly round: number;
  readonly rng: Rng;
  /** Optional diagnostics sink: a strategy calls it once per merge (see report.ts). */
  readonly report?: ReportSink;
}

/**
 * A merge rule. Must not mutate its inputs, must return weights with own's layout, and
 * must return (a copy of) own when there are no candidates.
 */
export type Strategy = (own: Weights, candidates: readonly Candidate[], ctx: MergeContext) => Weights;
