/**
 * The merge contract: every rule (Bristle, L-DAWA, the robust baselines) is a Strategy,
 * a pure function from our own model and our neighbours' models to our next model.
 */
import type { Rng } from '../data/rng.ts';
import type { ClassScores, LinearInputEvaluator, OutputLayer } from '../model/evaluation.ts';
import type { Weights } from '../model/weights.ts';

// The merge rules' context names them; they live in model/, where trainers use them too.
export type { ClassScores, LinearInputEvaluator, OutputLayer } from '../model/evaluation.ts';

/** One neighbour model offered to a merge (its latest public copy). */
export interface Candidate {
  /** Sender id (libp2p peer id string, or a simulation index as string). */
  readonly peer: string;
  /** Sender's sequence number of this model. */
  readonly seq: number;
  readonly weights: Weights;
  /** Number of local training samples the sender reports (>= 0; untrusted). */
  readonly samples: number;
  /**
   * Rounds this sender lags behind the receiver, measured by the receiver from the pace of
   * its updates (not claimed); 0 or undefined: it keeps pace.
   */
  readonly lag?: number;
}

/** MergeContext.validationSplit. */
export interface ValidationSplit {
  readonly labels: ArrayLike<number>;
  readonly privateCount: number;
}

/** floatBitsMaxAbs (src/model/float-bits.ts) of read-only arrays, computed once each. */
export interface ValueScans {
  maxAbsBits(values: Float32Array): number;
}

export interface MergeContext {
  /** Scores a model on this peer's validation split. Synchronous; may be slow. */
  readonly evaluate: (w: Weights) => ClassScores;
  /**
   * Optional: `evaluate` split at the model's first layer, when the model starts with a
   * dense layer on the input (src/model/evaluation.ts). Rules that score many mixes of the
   * same models use it (LeaveOutMixer); every other rule ignores it. Valid for this merge only.
   */
  readonly linearInput?: LinearInputEvaluator;
  /**
   * Optional: what V's samples are, for rules that score parts of V. `labels` in V's order;
   * the first `privateCount` samples are this peer's own validation samples (no other peer
   * knows them), the rest the task's public set (known to every peer, attackers included).
   * Undefined: V is one part.
   */
  readonly validationSplit?: ValidationSplit;
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
  /**
   * D, when the peer takes updates from at most D sampled neighbours (a merge then sees a
   * handful of candidates, of which attackers can be half); 'all' or undefined when every
   * peer's update reaches every merge.
   */
  readonly neighbours?: number | 'all';
  readonly rng: Rng;
  /**
   * Optional: remembers the max-|v| scans of arrays that are never written (a simulation's
   * shared public copies, src/wire/shared-copies.ts), so the guard reads each once per
   * process instead of once per merge. Undefined: every merge scans every candidate.
   */
  readonly scans?: ValueScans;
  /** Optional diagnostics sink: a strategy calls it once per merge (see report.ts). */
  readonly report?: ReportSink;
}

/** Merge diagnostics (report.ts): who was used with what share, who was left out and why. */
export type RejectReason =
  /** Layer names or shapes differ from own. */
  | 'architecture'
  /** Contains NaN or +-Infinity. */
  | 'non-finite'
  /** A finite value outside the absolute bound (DEFAULT_VALUE_BOUND, src/model/bounds.ts). */
  | 'out-of-range'
  /** An older model from a peer that also offered a newer one. */
  | 'duplicate'
  /** Not chosen by a prioritizer (e.g. Bristle's distance thirds). */
  | 'not-prioritized'
  /** Not among the models a selection rule kept (Krum, Multi-Krum). */
  | 'not-selected'
  /** Farther than the acceptance radius (BALANCE). */
  | 'too-far'
  /** Certainty on the validation set below the gate (bristle+ldawa). */
  | 'uncertain'
  /** A near-copy of another candidate's model: colluding identities (bristle+ldawa, `copies` 'reject'). */
  | 'copies'
  /** Leaving its group out lowers the validation loss beyond the threshold (bristle+ldawa). */
  | 'harmful'
  /** Its update points against own's (bristle+ldawa, `against` 'reject'). */
  | 'opposed'
  /** It lowers the validation loss of too few classes against own's start model (bristle+ldawa, `progress`). */
  | 'no-progress'
  /** Its largest push on V moves one class's inputs to another output (bristle+ldawa, `flip`). */
  | 'flipped';

export interface UsedCandidate {
  readonly peer: string;
  readonly seq: number;
  /**
   * Share of the merged result this candidate contributed: for weighted averages
   * w_j / (1 + sum w), averaged over the merged parameters; for coordinate-wise statistics
   * (median, trimmed mean) an equal share 1/n of the inputs. Own share + shares = 1.
   */
  readonly share: number;
}

export interface RejectedCandidate {
  readonly peer: string;
  readonly seq: number;
  readonly reason: RejectReason;
}

export interface MergeReport {
  readonly strategy: string;
  /** Share of own model in the result (1 when nothing was merged). */
  readonly ownShare: number;
  readonly used: readonly UsedCandidate[];
  readonly rejected: readonly RejectedCandidate[];
}

export type ReportSink = (report: MergeReport) => void;

/**
 * A merge rule. Must not mutate its inputs, must return weights with own's layout, and
 * must return (a copy of) own when there are no candidates.
 */
export type Strategy = (own: Weights, candidates: readonly Candidate[], ctx: MergeContext) => Weights;
