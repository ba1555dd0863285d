/**
 * A trainable model: ordered tfjs variables plus a forward function. Built from a
 * ModelSpec with a seeded initialisation, so the same seed gives the same model on every
 * peer. The output layer is a bias-free dense layer (one column per class), as in Bristle.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '../data/rng.ts';
import type { OutputLayer } from './evaluation.ts';
import { repOptInit, repOptMultiplier, repOptScale, uniformScales } from './reparam.ts';
import type { ModelSpec } from './spec.ts';
import { type Layer, sameArchitecture, sizeOfShape, type Weights } from './weights.ts';

export const HEAD_KERNEL = 'head/kernel';

export interface NamedVariable {
  readonly name: string;
  readonly shape: readonly number[];
  readonly variable: tf.Variable;
}

export interface Model {
  readonly spec: ModelSpec;
  /** Shape of one sample, e.g. [28, 28, 1]. */
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  /** All parameters in a stable order; the last one is the output layer. */
  readonly variables: readonly NamedVariable[];
  readonly outputLayer: OutputLayer;
  /** Width of the penultimate features (rows of the output kernel). */
  readonly featureSize: number;
  /** Forward-pass FLOPs for one sample (multiply-adds count 2). */
  readonly flopsPerSample: number;
  /** Constant gradient multipliers per variable name (RepOpt); absent = 1. */
  readonly gradMultipliers: ReadonlyMap<string, tf.Tensor>;
  /** Penultimate features [batch, featureSize]. */
  features(x: tf.Tensor): tf.Tensor2D;
  /** Logits [batch, numClasses]. */
  logits(x: tf.Tensor): tf.Tensor2D;
  dispose(): void;
}

function heNormal(rng: Rng, fanIn: number, size: number): Float32Array {
  const std = Math.sqrt(2 / fanIn);
  const v = new Float32Array(size);
  for (let i = 0; i < size; i++) v[i] = rng.normal() * std;
  return v;
}

class VariableSet {
  readonly list: NamedVariable[] = [];
  add(name: string, shape: number[], values: Float32Array): tf.Variable {
    const variable = tf.variable(tf.tensor(values, shape), true, `${name}_${Math.random().toString(36).slice(2)}`);
    this.list.push({ name, shape, variable });
    return variable;
  }
}

/** Builds a model for samples of `inputShape` and `numClasses` classes, seeded. */
export function buildModel(spec: ModelSpec, inputShape: readonly number[], numClasses: number, seed: number): Model {
  const rng = createRng(seed).fork('model-init');
  const vars = new VariableSet();
  const multipliers = new Map<string, tf.Tensor>();
  let features: (x: tf.Tensor) => tf.Tensor2D;
  let featureSize: number;
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
      features = (x) =>
        tf.tidy(() => {
          let a = x.reshape([-1, inputSize]) as tf.Tensor2D;
          for (const { k, b } of dense) a = tf.relu(tf.add(tf.matMul(a, k), b)) as tf.Tensor2D;
          return a;
        });
      break;
    }
    case 'cnn': {
      if (inputShape.length !== 3) throw new Error(`cnn needs [height, width, channels] inputs, got [${inputShape}]`);
      let [h, w, c] = inputShape as [number, number, number];
      const stages: Array<Array<{ k: tf.Variable; b: tf.Variable }>> = [];
      spec.stages.forEach((stage, si) => {
        const convs: Array<{ k: tf.Variable; b: tf.Variable }> = [];
        stage.forEach((cout, bi) => {
          const name = `conv${si}_${bi}`;
          const fanIn = 9 * c;
          const k3 = heNormal(rng, fanIn, 9 * c * cout);
          let kernel = k3;
          if (spec.reparam === 'repopt') {
            const scale = repOptScale(bi);
            const scales = uniformScales(cout, scale, scale, c === cout);
            kernel = repOptInit(c, cout, k3, heNormal(rng, c, c * cout), scales);
            multipliers.set(`${name}/kernel`, tf.tensor(repOptMultiplier(c, cout, scales), [3, 3, c, cout]));
          }
          const k = vars.add(`${name}/kernel`, [3, 3, c, cout], kernel);
          const b = vars.add(`${name}/bias`, [cout], new Float32Array(cout));
          convs.push({ k, b });
          flops += 2 * h * w * 9 * c * cout;
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
      features = (x) =>
        tf.tidy(() => {
          let a = x.reshape(shape) as tf.Tensor4D;
          for (const convs of stages) {
            for (const { k, b } of convs) a = tf.relu(tf.add(tf.conv2d(a, k as tf.Tensor4D, 1, 'same'), b));
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
    featureSize,
    flopsPerSample: flops,
    gradMultipliers: multipliers,
    features,
    logits: (x) => tf.tidy(() => tf.matMul(features(x), head)),
    dispose: () => {
      for (const v of variables) v.variable.dispose();
      for (const m of multipliers.values()) m.dispose();
    },
  };
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

/** Loads parameters into the model; throws unless the layout matches exactly. */
export function setWeights(model: Model, weights: Weights): void {
  if (!sameArchitecture(weightsLayout(model), weights)) {
    const want = model.variables.map((v) => `${v.name}[${v.shape}]`).join(', ');
    const got = weights.map((l) => `${l.name}[${l.shape}]`).join(', ');
    throw new Error(`weights do not fit the model: expected ${want}; got ${got}`);
  }
  tf.tidy(() => {
    model.variables.forEach((v, i) => {
      v.variable.assign(tf.tensor((weights[i] as Layer).values, [...v.shape]));
    });
  });
}
