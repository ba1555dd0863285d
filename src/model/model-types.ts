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

/**
 * A model whose forward pass starts with a dense layer on the flattened input (the MLP):
 * that layer's pre-activation P = X K is linear in its kernel K, so the pre-activation of
 * a weighted mix of models is the same mix of each model's P. Merges that score many mixes
 * of the same candidates (leave-group-out) use it to run the largest matrix product once
 * per model instead of once per mix (Trainer.mergeEvaluator).
 */
export interface LinearInput {
  /** Name of the first layer's kernel variable ([inputs, units]). */
  readonly kernel: string;
  readonly units: number;
  /** P = X K for a batch of inputs [batch, ...inputShape] and a kernel tensor [inputs, units]. */
  project(x: tf.Tensor, kernel: tf.Tensor2D): tf.Tensor2D;
  /**
   * Penultimate features from P (the rest of the inference forward pass, with the model's
   * other variables): features(x) is exactly featuresFrom(project(x, kernel)).
   */
  featuresFrom(p: tf.Tensor2D): tf.Tensor2D;
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
  /** Present when the forward pass starts with a dense layer on the input (see LinearInput). */
  readonly linearInput?: LinearInput;
  /** Penultimate features [batch, featureSize], inference mode (BatchNorm by moving statistics). */
  features(x: tf.Tensor): tf.Tensor2D;
  /**
   * Logits [batch, numClasses]. `training`: BatchNorm normalises by the batch and updates
   * its moving statistics (call it only inside a training step). Default false.
   */
  logits(x: tf.Tensor, training?: boolean): tf.Tensor2D;
  dispose(): void;
}
