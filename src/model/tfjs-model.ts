/**
 * Bring-your-own model: any tfjs LayersModel (Sequential or functional) whose topology, the
 * `modelTopology` of a tfjs `model.json`, travels in the task (`model: { kind: "tfjs",
 * topology }`). Every peer builds the same model from it and initialises its weights from
 * the task's model seed (the topology's own initialisers are not used), so peers start equal.
 *
 * The topology is checked when the spec is parsed, before anything is allocated and without
 * tfjs (./tfjs-topology.ts): every layer must be one meshfl can merge (SUPPORTED_LAYERS;
 * anything else is refused with an error naming the layer), and shapes and parameter counts
 * are inferred so a task can be bounded (MAX_TASK_PARAMETERS) before a peer allocates it. The output layer, whose kernel and bias Bristle scores per
 * class, is a Dense layer of `classes` units with a linear or softmax activation; it is the
 * layer producing the model's output unless the spec names another (`outputLayer`).
 *
 * BatchNormalization: gamma and beta are trained and merged like weights; the moving
 * statistics are state the training pass updates, merged with the same weights by default
 * (`batchNormStats: "merge"`) or kept by each peer (`"local"`, FedBN).
 *
 * tfjs builds a model from JSON only asynchronously (tf.models.modelFromJSON), while meshfl
 * builds models synchronously (Trainer, merge evaluation): `await prepareModel(spec)` once
 * per topology (createPeer does), after which `buildModel` builds it synchronously from the
 * model's config.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../data/rng.ts';
import type { OutputLayer } from './evaluation.ts';
import type { Model, NamedVariable } from './model-types.ts';
import type { ModelSpec } from './spec.ts';
import { inspectTopology, type Json, type Shape, type TfjsSpec } from './tfjs-topology.ts';

interface Prepared {
  readonly cls: tf.serialization.SerializableConstructor<tf.LayersModel>;
  readonly config: tf.serialization.ConfigDict;
}

/** Deserialised configs by canonical topology text (one entry per distinct topology). */
const prepared = new Map<string, Prepared>();

function topologyKey(spec: TfjsSpec): string {
  return JSON.stringify(spec.topology);
}

/**
 * Makes `spec` buildable synchronously: deserialises its topology once (tfjs does that
 * asynchronously). A no-op for the built-in models and for a topology prepared before.
 */
export async function prepareModel(spec: ModelSpec): Promise<void> {
  if (spec.kind !== 'tfjs') return;
  const key = topologyKey(spec);
  if (prepared.has(key)) return;
  const model = await tf.models.modelFromJSON({ modelTopology: spec.topology as tf.io.ModelJSON['modelTopology'] });
  try {
    const cls = model.constructor as unknown as tf.serialization.SerializableConstructor<tf.LayersModel> & {
      fromConfig: unknown;
    };
    prepared.set(key, { cls, config: model.getConfig() });
  } finally {
    model.dispose();
  }
}

function heNormal(normal: () => number, fanIn: number, size: number): Float32Array {
  const std = Math.sqrt(2 / fanIn);
  return Float32Array.from({ length: size }, () => normal() * std);
}

/** The tfjs.Variable under a tfjs-layers LayerVariable (read() returns it: gradients reach it). */
function variableOf(w: tf.LayerVariable): tf.Variable {
  return (w as unknown as { val: tf.Variable }).val;
}

/**
 * Builds a prepared tfjs spec as a meshfl Model for `inputShape` samples and `classes`
 * classes, initialised from `seed`: kernels He-normal, biases and BatchNorm beta 0, gamma
 * 1, moving mean 0, moving variance 1, and the output layer 0 (as Bristle starts its head).
 */
export function buildTfjsModel(spec: TfjsSpec, inputShape: Shape, classes: number, seed: number): Model {
  const info = inspectTopology(spec.topology as Json, classes, spec.outputLayer);
  if (info.inputShape.join('x') !== inputShape.join('x')) {
    throw new RangeError(`the tfjs model takes samples of [${info.inputShape}], the task's are [${inputShape}]`);
  }
  const p = prepared.get(topologyKey(spec));
  if (p === undefined) {
    throw new Error('a tfjs model must be prepared before it is built: await prepareModel(spec) first');
  }
  const fromConfig = (p.cls as unknown as { fromConfig: (c: unknown, cfg: unknown) => tf.LayersModel }).fromConfig;
  // fromConfig consumes its config (Sequential's takes the layers out): a copy per build.
  const lm = fromConfig(p.cls, structuredClone(p.config));
  const head = lm.getLayer(info.outputLayer);
  const featureModel = tf.model({ inputs: lm.inputs, outputs: head.input as tf.SymbolicTensor });
  const normal = createRng(seed).fork('model-init');
  const headWeights = new Set(head.weights);
  const variables: NamedVariable[] = [];
  tf.tidy(() => {
    for (const layer of lm.layers) {
      const batchNorm = layer.getClassName() === 'BatchNormalization' || layer.getClassName() === 'LayerNormalization';
      for (const w of layer.weights) {
        const variable = variableOf(w);
        const role = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
        const shape = w.shape as number[];
        const size = shape.reduce((a, b) => a * b, 1);
        let values: Float32Array;
        if (headWeights.has(w) || role === 'bias' || role === 'beta' || role === 'moving_mean') {
          values = new Float32Array(size);
        } else if (batchNorm) {
          values = new Float32Array(size).fill(1); // gamma, moving_variance
        } else {
          const fanIn = size / shape[shape.length - 1];
          values = heNormal(() => normal.normal(), fanIn, size);
        }
        variable.assign(tf.tensor(values, shape));
        variables.push({ name: w.originalName, shape: [...shape], variable, trainable: w.trainable });
      }
    }
  });
  const kernel = head.weights.find((w) => w.originalName.endsWith('/kernel'));
  const bias = head.weights.find((w) => w.originalName.endsWith('/bias'));
  if (kernel === undefined) throw new Error(`output layer "${info.outputLayer}" has no kernel`);
  const outputLayer: OutputLayer = { kernel: kernel.originalName, ...(bias ? { bias: bias.originalName } : {}) };
  const built = variables.reduce((n, v) => n + v.variable.size, 0);
  if (built !== info.parameters) {
    lm.dispose();
    throw new Error(`tfjs built ${built} parameters, the topology check counted ${info.parameters}`);
  }
  const headKernel = variableOf(kernel) as tf.Tensor2D;
  const headBias = bias ? variableOf(bias) : undefined;
  const features = (x: tf.Tensor, training: boolean) =>
    tf.tidy(() => featureModel.apply(x.reshape([-1, ...inputShape]), { training }) as tf.Tensor2D);
  return {
    spec,
    inputShape: [...inputShape],
    numClasses: classes,
    variables,
    outputLayer,
    exchangeState: spec.batchNormStats === 'merge',
    featureSize: info.featureSize,
    // Not derived from a general topology: the dense parts (2 per weight) as a floor.
    flopsPerSample: 2 * info.parameters,
    gradMultipliers: new Map(),
    layersModel: lm,
    features: (x) => features(x, false),
    logits: (x, training = false) =>
      tf.tidy(() => {
        const z = tf.matMul(features(x, training), headKernel);
        return (headBias ? tf.add(z, headBias) : z) as tf.Tensor2D;
      }),
    // The feature model shares lm's layers and holds no tensors of its own; disposing lm
    // frees every weight (disposing both throws in tfjs-layers).
    dispose: () => lm.dispose(),
  };
}
