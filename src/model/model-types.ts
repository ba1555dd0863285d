/**
 * The trainable-model contract (built by src/model/model.ts and src/model/tfjs-model.ts):
 * kept apart so both builders depend on it without depending on each other.
 */
import type * as tf from '@tensorflow/tfjs';
import type { OutputLayer } from './evaluation.ts';
import type { ModelSpec } from './spec.ts';

export interface NamedVariable {
  readonly name: string;
  readonly shape: readonly number[];
  readonly variable: tf.Variable;
  /** false: state the training forward pass updates (BatchNorm moving statistics), no gradient. */
  readonly trainable: boolean;
}

export interface Model {
  readonly spec: ModelSpec;
  /** Shape of one sample, e.g. [28, 28, 1]. */
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  /** All parameters and state in a stable order. */
  readonly variables: readonly NamedVariable[];
  readonly outputLayer: OutputLayer;
  /** Whether state variables (BatchNorm moving statistics) are exchanged and merged (false = FedBN). */
  readonly exchangeState: boolean;
  /** Width of the penultimate features (rows of the output kernel). */
  readonly featureSize: number;
  /** Forward-pass FLOPs for one sample (multiply-adds count 2). */
  readonly flopsPerSample: number;
  /** Constant gradient multipliers per variable name (RepOpt); absent = 1. */
  readonly gradMultipliers: ReadonlyMap<string, tf.Tensor>;
  /** The tfjs LayersModel holding the variables, for a `tfjs` spec (export saves it). */
  readonly layersModel?: tf.LayersModel;
  /** Penultimate features [batch, featureSize], inference mode (BatchNorm by moving statistics). */
  features(x: tf.Tensor): tf.Tensor2D;
  /**
   * Logits [batch, numClasses]. `training`: BatchNorm normalises by the batch and updates
   * its moving statistics (call it only inside a training step). Default false.
   */
  logits(x: tf.Tensor, training?: boolean): tf.Tensor2D;
  dispose(): void;
}
