/**
 * A trainable model: ordered tfjs variables plus a forward function. Built from a
 * ModelSpec with a seeded initialisation, so the same seed gives the same model on every
 * peer. The built-in models' output layer is a bias-free dense layer (one column per
 * class), as in Bristle; a tfjs model (src/model/tfjs-model.ts) names its own.
 *
 * Variables are either trained by gradients or state the training forward pass updates
 * (BatchNorm moving statistics). State is exchanged and merged like the weights unless the
 * spec keeps it local (`batchNormStats: "local"`, FedBN).
 */
import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '../data/rng.ts';
import type { LinearInput, Model, NamedVariable } from './model-types.ts';
import { repOptInit, repOptMultiplier, repOptScale, uniformScales } from './reparam.ts';
import { DEFAULT_BN_EPSILON, KERNEL3_PADDING } from './repvgg-block.ts';
import type { ModelSpec } from './spec.ts';
import { buildTfjsModel } from './tfjs-model.ts';
import { type Layer, sameArchitecture, sizeOfShape, type Weights } from './weights.ts';

export type { LinearInput, Model, NamedVariable };

export const HEAD_KERNEL = 'head/kernel';
/** Decay of the BatchNorm moving statistics per training step (PyTorch's momentum 0.1). */
export const BN_MOMENTUM = 0.9;

function heNormal(rng: Rng, fanIn: number, size: number): Float32Array {
  const std = Math.sqrt(2 / fanIn);
  const v = new Float32Array(size);
  for (let i = 0; i < size; i++) v[i] = rng.normal() * std;
  return v;
}

class VariableSet {
  readonly list: NamedVariable[] = [];
  add(name: string, shape: number[], values: Float32Array, trainable = true): tf.Variable {
    // The variable holds its own reference to the data: free the initial tensor, or it
    // outlives every dispose of the model.
    const initial = tf.tensor(values, shape);
    const variable = tf.variable(initial, trainable, `${name}_${Math.random().toString(36).slice(2)}`);
    initial.dispose();
    this.list.push({ name, shape, variable, trainable });
    return variable;
  }
}

/** One BatchNorm's variables: gamma and beta trained, the moving statistics state. */
export interface BnVariables {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly movingMean: tf.Variable;
  readonly movingVariance: tf.Variable;
}

function addBatchNorm(vars: VariableSet, name: string, channels: number): BnVariables {
  const ones = () => new Float32Array(channels).fill(1);
  return {
    gamma: vars.add(`${name}/gamma`, [channels], ones()),
    beta: vars.add(`${name}/beta`, [channels], new Float32Array(channels)),
    movingMean: vars.add(`${name}/moving_mean`, [channels], new Float32Array(channels), false),
    movingVariance: vars.add(`${name}/moving_variance`, [channels], ones(), false),
  };
}

/**
 * BatchNorm over NHWC. Training: normalise by the batch's (biased) moments and move the
 * statistics toward them, as tfjs-layers' BatchNormalization does; inference: by the
 * moving statistics.
 */
function batchNorm(x: tf.Tensor4D, bn: BnVariables, training: boolean): tf.Tensor4D {
  if (!training) {
    return tf.batchNorm(x, bn.movingMean, bn.movingVariance, bn.beta, bn.gamma, DEFAULT_BN_EPSILON) as tf.Tensor4D;
  }
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  // The update is no part of the loss: the tape records it, but no gradient flows through it.
  tf.tidy(() => {
    bn.movingMean.assign(tf.add(tf.mul(bn.movingMean, BN_MOMENTUM), tf.mul(mean, 1 - BN_MOMENTUM)));
    bn.movingVariance.assign(tf.add(tf.mul(bn.movingVariance, BN_MOMENTUM), tf.mul(variance, 1 - BN_MOMENTUM)));
  });
  return tf.batchNorm(
    x,
    mean as tf.Tensor1D,
    variance as tf.Tensor1D,
    bn.beta,
    bn.gamma,
    DEFAULT_BN_EPSILON,
  ) as tf.Tensor4D;
}

/** A RepVGG block's branches as variables (src/model/repvgg-block.ts has the math). */
export interface RepVGGBlockVariables {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel3: tf.Variable;
  readonly bn3: BnVariables;
  readonly kernel1: tf.Variable;
  readonly bn1: BnVariables;
  readonly bnIdentity?: BnVariables;
}

function repvggBlock(x: tf.Tensor4D, b: RepVGGBlockVariables, training: boolean): tf.Tensor4D {
  let y = tf.add(
    batchNorm(tf.conv2d(x, b.kernel3 as tf.Tensor4D, 1, KERNEL3_PADDING), b.bn3, training),
    batchNorm(tf.conv2d(x, b.kernel1 as tf.Tensor4D, 1, 'valid'), b.bn1, training),
  ) as tf.Tensor4D;
  if (b.bnIdentity) y = tf.add(y, batchNorm(x, b.bnIdentity, training));
  return y;
}

/** Builds a model for samples of `inputShape` and `numClasses` classes, seeded. */
export function buildModel(spec: ModelSpec, inputShape: readonly number[], numClasses: number, seed: number): Model {
  if (spec.kind === 'tfjs') return buildTfjsModel(spec, inputShape, numClasses, seed);
  const rng = createRng(seed).fork('model-init');
  const vars = new VariableSet();
  const multipliers = new Map<string, tf.Tensor>();
  let forward: (x: tf.Tensor, training: boolean) => tf.Tensor2D;
  let featureSize: number;
  let linearInput: LinearInput | undefined;
  let flops = 0;
  const inputSize = sizeOfShape(inputShape);

  switch (spec.kind) {
    case 'mlp': {
      const dense: Array<{ k: tf.Variable; b: tf.Variable }> = [];
      let width = inputSize;
      spec.hidden.forEach((h, i) => {
        const k = vars.add(`dense${i}/kernel`, [width, h], heNormal(rng, width, width * h));
        const b = vars.add(`dense${i}/bias`, [h], new Float32Array(h));
        dense.push({ k, b });
        flops += 2 * width * h;
        width = h;
      });
      featureSize = width;
      // The first layer's product and the rest apart, so mixes can be scored from P = X K
      // (LinearInput); features(x) runs exactly the same ops as featuresFrom(project(x)).
      const project = (x: tf.Tensor, k: tf.Tensor2D): tf.Tensor2D =>
        tf.tidy(() => tf.matMul(x.reshape([-1, inputSize]) as tf.Tensor2D, k));
      const featuresFrom = (p: tf.Tensor2D): tf.Tensor2D =>
        tf.tidy(() => {
          let a = p;
          dense.forEach(({ k, b }, i) => {
            a = tf.relu(tf.add(i === 0 ? a : tf.matMul(a, k), b)) as tf.Tensor2D;
          });
          return a;
        });
      const first = dense[0];
      if (first !== undefined) {
        linearInput = { kernel: 'dense0/kernel', units: spec.hidden[0], project, featuresFrom };
        forward = (x) => tf.tidy(() => featuresFrom(project(x, first.k as tf.Tensor2D)));
      } else {
        forward = (x) => tf.tidy(() => x.reshape([-1, inputSize]) as tf.Tensor2D);
      }
      break;
    }
    case 'cnn': {
      if (inputShape.length !== 3) throw new Error(`cnn needs [height, width, channels] inputs, got [${inputShape}]`);
      let [h, w, c] = inputShape as [number, number, number];
      type Conv = { readonly plain: { k: tf.Variable; b: tf.Variable } } | { readonly block: RepVGGBlockVariables };
      const stages: Conv[][] = [];
      spec.stages.forEach((stage, si) => {
        const convs: Conv[] = [];
        stage.forEach((cout, bi) => {
          const name = `conv${si}_${bi}`;
          const fanIn = 9 * c;
          const k3 = heNormal(rng, fanIn, 9 * c * cout);
          if (spec.reparam === 'repvgg') {
            // Trained as branches: 3x3 + BN, 1x1 + BN, identity BN when in == out.
            convs.push({
              block: {
                inChannels: c,
                outChannels: cout,
                kernel3: vars.add(`${name}/kernel3`, [3, 3, c, cout], k3),
                bn3: addBatchNorm(vars, `${name}/bn3`, cout),
                kernel1: vars.add(`${name}/kernel1`, [1, 1, c, cout], heNormal(rng, c, c * cout)),
                bn1: addBatchNorm(vars, `${name}/bn1`, cout),
                ...(c === cout ? { bnIdentity: addBatchNorm(vars, `${name}/bn_identity`, cout) } : {}),
              },
            });
            flops += 2 * h * w * 10 * c * cout;
          } else {
            let kernel = k3;
            if (spec.reparam === 'repopt') {
              const scale = repOptScale(bi);
              const scales = uniformScales(cout, scale, scale, c === cout);
              kernel = repOptInit(c, cout, k3, heNormal(rng, c, c * cout), scales);
              multipliers.set(`${name}/kernel`, tf.tensor(repOptMultiplier(c, cout, scales), [3, 3, c, cout]));
            }
            const k = vars.add(`${name}/kernel`, [3, 3, c, cout], kernel);
            const b = vars.add(`${name}/bias`, [cout], new Float32Array(cout));
            convs.push({ plain: { k, b } });
            flops += 2 * h * w * 9 * c * cout;
          }
          c = cout;
        });
        stages.push(convs);
        h = Math.floor(h / 2);
        w = Math.floor(w / 2);
      });
      const flat = h * w * c;
      let denseLayer: { k: tf.Variable; b: tf.Variable } | undefined;
      if (spec.dense > 0) {
        denseLayer = {
          k: vars.add('dense/kernel', [flat, spec.dense], heNormal(rng, flat, flat * spec.dense)),
          b: vars.add('dense/bias', [spec.dense], new Float32Array(spec.dense)),
        };
        flops += 2 * flat * spec.dense;
      }
      featureSize = spec.dense > 0 ? spec.dense : flat;
      const shape = [-1, ...inputShape];
      forward = (x, training) =>
        tf.tidy(() => {
          let a = x.reshape(shape) as tf.Tensor4D;
          for (const convs of stages) {
            for (const conv of convs) {
              a =
                'block' in conv
                  ? tf.relu(repvggBlock(a, conv.block, training))
                  : tf.relu(tf.add(tf.conv2d(a, conv.plain.k as tf.Tensor4D, 1, 'same'), conv.plain.b));
            }
            a = tf.maxPool(a, 2, 2, 'valid');
          }
          let f = a.reshape([-1, flat]) as tf.Tensor2D;
          if (denseLayer) f = tf.relu(tf.add(tf.matMul(f, denseLayer.k), denseLayer.b));
          return f;
        });
      break;
    }
    default: {
      const never: never = spec;
      throw new Error(`unknown model spec ${JSON.stringify(never)}`);
    }
  }
  // Bristle: the output layer has no bias and starts at zero.
  const head = vars.add(HEAD_KERNEL, [featureSize, numClasses], new Float32Array(featureSize * numClasses));
  flops += 2 * featureSize * numClasses;
  const variables = vars.list;
  return {
    spec,
    inputShape: [...inputShape],
    numClasses,
    variables,
    outputLayer: { kernel: HEAD_KERNEL },
    exchangeState: spec.kind !== 'cnn' || spec.batchNormStats !== 'local',
    featureSize,
    flopsPerSample: flops,
    gradMultipliers: multipliers,
    ...(linearInput === undefined ? {} : { linearInput }),
    features: (x) => forward(x, false),
    logits: (x, training = false) => tf.tidy(() => tf.matMul(forward(x, training), head)),
    dispose: () => {
      for (const v of variables) v.variable.dispose();
      for (const m of multipliers.values()) m.dispose();
    },
  };
}

/**
 * The RepVGG blocks of a `cnn` model with `reparam: "repvgg"`, in order, read from its
 * variables by name (for the fused export).
 */
export function repvggBlocks(model: Model): RepVGGBlockVariables[] {
  if (model.spec.kind !== 'cnn' || model.spec.reparam !== 'repvgg') return [];
  const byName = new Map(model.variables.map((v) => [v.name, v.variable]));
  const get = (name: string): tf.Variable => {
    const v = byName.get(name);
    if (v === undefined) throw new Error(`model has no variable ${name}`);
    return v;
  };
  const bn = (name: string): BnVariables => ({
    gamma: get(`${name}/gamma`),
    beta: get(`${name}/beta`),
    movingMean: get(`${name}/moving_mean`),
    movingVariance: get(`${name}/moving_variance`),
  });
  const blocks: RepVGGBlockVariables[] = [];
  let c = model.inputShape[2];
  model.spec.stages.forEach((stage, si) => {
    stage.forEach((cout, bi) => {
      const name = `conv${si}_${bi}`;
      blocks.push({
        inChannels: c,
        outChannels: cout,
        kernel3: get(`${name}/kernel3`),
        bn3: bn(`${name}/bn3`),
        kernel1: get(`${name}/kernel1`),
        bn1: bn(`${name}/bn1`),
        ...(c === cout ? { bnIdentity: bn(`${name}/bn_identity`) } : {}),
      });
      c = cout;
    });
  });
  return blocks;
}

/** Copies the model's parameters out (lossless). */
export function getWeights(model: Model): Weights {
  return model.variables.map(
    (v): Layer => ({ name: v.name, shape: [...v.shape], values: v.variable.dataSync() as Float32Array }),
  );
}

/** Layout of the model's parameters, without reading values (zeros). */
export function weightsLayout(model: Model): Weights {
  return model.variables.map((v) => ({
    name: v.name,
    shape: [...v.shape],
    values: new Float32Array(sizeOfShape(v.shape)),
  }));
}

const NO_VALUES = new Float32Array(0);

/**
 * Loads parameters into the model; throws unless the layout matches exactly. Variables
 * named in `keep` are left as they are (their values in `weights` are not read).
 */
export function setWeights(model: Model, weights: Weights, keep?: ReadonlySet<string>): void {
  // The layout check reads names and shapes only: no model-sized zero arrays per call
  // (merges load many models).
  const layout = model.variables.map((v) => ({ name: v.name, shape: v.shape, values: NO_VALUES }));
  if (!sameArchitecture(layout, weights)) {
    const want = model.variables.map((v) => `${v.name}[${v.shape}]`).join(', ');
    const got = weights.map((l) => `${l.name}[${l.shape}]`).join(', ');
    throw new Error(`weights do not fit the model: expected ${want}; got ${got}`);
  }
  tf.tidy(() => {
    model.variables.forEach((v, i) => {
      if (keep?.has(v.name)) return;
      v.variable.assign(tf.tensor(weights[i].values, [...v.shape]));
    });
  });
}
