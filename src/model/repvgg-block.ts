/**
 * Train-time RepVGG block in tfjs (ALGORITHMS.md §3, structural re-parameterization):
 *   y = BN3(conv3x3(x)) + BN1(conv1x1(x)) + BNid(x)
 * with the identity branch only when in == out channels and stride 1. `fuseBlock` folds the
 * three branches into one plain 3x3 conv with bias (via `fuseRepVGG`), equal to the block
 * in inference mode; `plainConv` runs that fused conv with the same padding convention.
 *
 * Padding: the 3x3 conv pads 1 on every side and the 1x1 conv pads nothing, so for stride 2
 * both branches sample the same centres (TF 'same' would pad 3x3 asymmetrically on even
 * inputs and shift its centre against the 1x1 branch). For stride 1 this equals 'same'.
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchNormParams, ConvWithBias } from './reparam.ts';
import { fuseRepVGG } from './reparam.ts';

/** Batch-norm parameters and moving statistics of one branch, per output channel. */
export interface BatchNormState {
  readonly gamma: tf.Tensor1D;
  readonly beta: tf.Tensor1D;
  readonly movingMean: tf.Tensor1D;
  readonly movingVariance: tf.Tensor1D;
  readonly epsilon: number;
}

export type BlockStride = 1 | 2;

export interface RepVGGBlockParams {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly stride: BlockStride;
  /** [3, 3, in, out] */
  readonly kernel3: tf.Tensor4D;
  readonly bn3: BatchNormState;
  /** [1, 1, in, out] */
  readonly kernel1: tf.Tensor4D;
  readonly bn1: BatchNormState;
  /** Present only when in == out and stride 1. */
  readonly bnIdentity?: BatchNormState;
}

export interface ForwardOptions {
  /**
   * true: normalise with the batch's own mean and (biased) variance, as in training;
   * false: with the moving statistics, as at inference. The moving statistics are not
   * updated here: the forward pass is a pure function of its inputs.
   */
  readonly training: boolean;
}

/** Symmetric padding of the 3x3 branch (and of the fused conv). */
export const KERNEL3_PADDING = 1;
/** Batch-norm epsilon when none is given (PyTorch and Keras use 1e-5 and 1e-3). */
export const DEFAULT_BN_EPSILON = 1e-5;
/** Axes a 2-D batch norm reduces over in NHWC: batch, height, width. */
const BN_AXES = [0, 1, 2];

function checkShape(t: tf.Tensor, want: readonly number[], what: string): void {
  if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
    throw new RangeError(`RepVGG block: ${what} must be [${want.join(', ')}], got [${t.shape.join(', ')}]`);
  }
}

function checkBn(bn: BatchNormState, channels: number, what: string): void {
  for (const key of ['gamma', 'beta', 'movingMean', 'movingVariance'] as const) {
    checkShape(bn[key], [channels], `${what}.${key}`);
  }
  if (!(bn.epsilon > 0)) throw new RangeError(`RepVGG block: ${what}.epsilon must be > 0`);
}

/** Throws a clear error unless the parameters form a valid block. */
export function validateBlock(p: RepVGGBlockParams): void {
  const { inChannels: cin, outChannels: cout } = p;
  if (!(Number.isInteger(cin) && cin > 0 && Number.isInteger(cout) && cout > 0)) {
    throw new RangeError('RepVGG block: channel counts must be positive integers');
  }
  if (p.stride !== 1 && p.stride !== 2) throw new RangeError(`RepVGG block: stride must be 1 or 2, got ${p.stride}`);
  checkShape(p.kernel3, [3, 3, cin, cout], 'kernel3');
  checkShape(p.kernel1, [1, 1, cin, cout], 'kernel1');
  checkBn(p.bn3, cout, 'bn3');
  checkBn(p.bn1, cout, 'bn1');
  if (p.bnIdentity) {
    if (cin !== cout || p.stride !== 1) {
      throw new RangeError('RepVGG block: an identity branch needs in == out channels and stride 1');
    }
    checkBn(p.bnIdentity, cout, 'bnIdentity');
  }
}

function batchNorm(x: tf.Tensor4D, bn: BatchNormState, training: boolean): tf.Tensor4D {
  if (!training) return tf.batchNorm(x, bn.movingMean, bn.movingVariance, bn.beta, bn.gamma, bn.epsilon);
  const { mean, variance } = tf.moments(x, BN_AXES);
  return tf.batchNorm(x, mean as tf.Tensor1D, variance as tf.Tensor1D, bn.beta, bn.gamma, bn.epsilon);
}

/** The block's output for x [batch, height, width, in] (differentiable in every parameter). */
export function repvggForward(x: tf.Tensor4D, p: RepVGGBlockParams, options: ForwardOptions): tf.Tensor4D {
  validateBlock(p);
  if (x.rank !== 4 || x.shape[3] !== p.inChannels) {
    throw new RangeError(`RepVGG block: input must be [batch, h, w, ${p.inChannels}], got [${x.shape.join(', ')}]`);
  }
  return tf.tidy(() => {
    const { training } = options;
    let y = tf.add(
      batchNorm(tf.conv2d(x, p.kernel3, p.stride, KERNEL3_PADDING), p.bn3, training),
      batchNorm(tf.conv2d(x, p.kernel1, p.stride, 'valid'), p.bn1, training),
    ) as tf.Tensor4D;
    if (p.bnIdentity) y = tf.add(y, batchNorm(x, p.bnIdentity, training));
    return y;
  });
}

function bnValues(bn: BatchNormState): BatchNormParams {
  return {
    gamma: bn.gamma.dataSync() as Float32Array,
    beta: bn.beta.dataSync() as Float32Array,
    mean: bn.movingMean.dataSync() as Float32Array,
    variance: bn.movingVariance.dataSync() as Float32Array,
    epsilon: bn.epsilon,
  };
}

/** The block at inference as one 3x3 conv with bias: kernel [3, 3, in, out], bias [out]. */
export function fuseBlock(p: RepVGGBlockParams): ConvWithBias {
  validateBlock(p);
  return fuseRepVGG({
    inChannels: p.inChannels,
    outChannels: p.outChannels,
    kernel3: p.kernel3.dataSync() as Float32Array,
    bn3: bnValues(p.bn3),
    kernel1: p.kernel1.dataSync() as Float32Array,
    bn1: bnValues(p.bn1),
    bnIdentity: p.bnIdentity ? bnValues(p.bnIdentity) : undefined,
  });
}

/** Runs a fused block (the plain conv that replaces it at inference). */
export function plainConv(x: tf.Tensor4D, fused: ConvWithBias, stride: BlockStride = 1): tf.Tensor4D {
  const cout = fused.bias.length;
  const cin = fused.kernel.length / (9 * cout);
  if (!Number.isInteger(cin) || x.shape[3] !== cin) {
    throw new RangeError(`plainConv: kernel for ${cin} input channels, input has ${x.shape[3]}`);
  }
  return tf.tidy(() =>
    tf.add(
      tf.conv2d(x, tf.tensor4d(fused.kernel, [3, 3, cin, cout]), stride, KERNEL3_PADDING),
      tf.tensor1d(fused.bias),
    ),
  );
}

/**
 * A freshly initialised block (He-normal kernels from `normal`, BN at identity: gamma 1,
 * beta 0, mean 0, variance 1). The identity branch is added when in == out and stride 1.
 * The caller owns (and disposes) the tensors, e.g. with `disposeBlock`.
 */
export function createBlock(
  inChannels: number,
  outChannels: number,
  normal: () => number,
  stride: BlockStride = 1,
  epsilon = DEFAULT_BN_EPSILON,
): RepVGGBlockParams {
  const he = (fanIn: number, size: number) => {
    const std = Math.sqrt(2 / fanIn);
    return Float32Array.from({ length: size }, () => normal() * std);
  };
  const bn = (): BatchNormState => ({
    gamma: tf.ones([outChannels]),
    beta: tf.zeros([outChannels]),
    movingMean: tf.zeros([outChannels]),
    movingVariance: tf.ones([outChannels]),
    epsilon,
  });
  const p: RepVGGBlockParams = {
    inChannels,
    outChannels,
    stride,
    kernel3: tf.tensor4d(he(9 * inChannels, 9 * inChannels * outChannels), [3, 3, inChannels, outChannels]),
    bn3: bn(),
    kernel1: tf.tensor4d(he(inChannels, inChannels * outChannels), [1, 1, inChannels, outChannels]),
    bn1: bn(),
    bnIdentity: inChannels === outChannels && stride === 1 ? bn() : undefined,
  };
  validateBlock(p);
  return p;
}

export function disposeBlock(p: RepVGGBlockParams): void {
  const bns = [p.bn3, p.bn1, ...(p.bnIdentity ? [p.bnIdentity] : [])];
  tf.dispose([p.kernel3, p.kernel1, ...bns.flatMap((b) => [b.gamma, b.beta, b.movingMean, b.movingVariance])]);
}
