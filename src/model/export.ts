/**
 * Export to the tfjs ecosystem: a meshfl Model as a tfjs LayersModel and as the files of a
 * LayersModel directory (`model.json` + one weights file) that `tf.loadLayersModel` loads
 * in Node and in a browser.
 *
 * Built-in models become a Sequential of standard layers (Flatten, Dense, Conv2D,
 * MaxPooling2D) with their current weights; the output layer keeps meshfl's bias-free head
 * and gets a softmax (`activation: "linear"` keeps logits). A RepVGG CNN is exported fused:
 * each block's three branches and BatchNorms become one 3x3 conv with bias
 * (src/model/reparam.ts), equal in inference to the branched model. A `tfjs` model is saved
 * as its own topology.
 */
import * as tf from '@tensorflow/tfjs';
import { buildModel, HEAD_KERNEL, type Model, repvggBlocks, setWeights } from './model.ts';
import type { ModelFile } from './model-file.ts';
import { type BatchNormParams, fuseRepVGG } from './reparam.ts';
import { DEFAULT_BN_EPSILON } from './repvgg-block.ts';
import { prepareModel } from './tfjs-model.ts';

/** File name of the weights next to model.json. */
export const WEIGHTS_FILE = 'weights.bin';

export interface ExportOptions {
  /** Activation of a built-in model's output layer. Default "softmax" (probabilities). */
  readonly activation?: 'softmax' | 'linear';
}

/** JSON metadata written as model.json's userDefinedMetadata (round, task, peer). */
export type ExportMetadata = Readonly<Record<string, string | number | boolean>>;

/** The two files of a tfjs LayersModel directory. */
export interface LayersModelFiles {
  /** model.json: topology plus a manifest naming WEIGHTS_FILE. */
  readonly modelJson: tf.io.ModelJSON;
  /** Contents of WEIGHTS_FILE. */
  readonly weights: Uint8Array;
}

function values(model: Model, name: string): Float32Array {
  const v = model.variables.find((x) => x.name === name);
  if (v === undefined) throw new Error(`model has no variable ${name}`);
  return v.variable.dataSync() as Float32Array;
}

function bnValues(bn: {
  gamma: tf.Variable;
  beta: tf.Variable;
  movingMean: tf.Variable;
  movingVariance: tf.Variable;
}): BatchNormParams {
  return {
    gamma: bn.gamma.dataSync() as Float32Array,
    beta: bn.beta.dataSync() as Float32Array,
    mean: bn.movingMean.dataSync() as Float32Array,
    variance: bn.movingVariance.dataSync() as Float32Array,
    epsilon: DEFAULT_BN_EPSILON,
  };
}

/**
 * A new tfjs LayersModel for inference with `model`'s current weights (the caller disposes
 * it). Built-in models as a Sequential (RepVGG fused); a `tfjs` model as a copy of its own.
 */
export function toLayersModel(model: Model, options: ExportOptions = {}): tf.LayersModel {
  const spec = model.spec;
  const activation = options.activation ?? 'softmax';
  const layers: tf.layers.Layer[] = [];
  const weights: tf.Tensor[] = [];
  const inputShape = [...model.inputShape];
  switch (spec.kind) {
    case 'tfjs': {
      const lm = model.layersModel;
      if (lm === undefined) throw new Error('a tfjs model without its LayersModel');
      const cls = lm.constructor as unknown as { fromConfig: (c: unknown, cfg: unknown) => tf.LayersModel };
      const copy = cls.fromConfig(lm.constructor, lm.getConfig());
      copy.setWeights(lm.getWeights());
      return copy;
    }
    case 'mlp': {
      layers.push(tf.layers.flatten({ inputShape, name: 'flatten' }));
      spec.hidden.forEach((units, i) => {
        layers.push(tf.layers.dense({ units, activation: 'relu', name: `dense${i}` }));
        weights.push(
          tf.tensor(values(model, `dense${i}/kernel`), [
            i === 0 ? tf.util.sizeFromShape(inputShape) : spec.hidden[i - 1],
            units,
          ]),
          tf.tensor(values(model, `dense${i}/bias`)),
        );
      });
      break;
    }
    case 'cnn': {
      const blocks = repvggBlocks(model);
      let c = inputShape[2];
      let h = inputShape[0];
      let w = inputShape[1];
      let index = 0;
      spec.stages.forEach((stage, si) => {
        stage.forEach((cout, bi) => {
          const name = `conv${si}_${bi}`;
          layers.push(
            tf.layers.conv2d({
              ...(layers.length === 0 ? { inputShape } : {}),
              filters: cout,
              kernelSize: 3,
              padding: 'same',
              activation: 'relu',
              name,
            }),
          );
          if (spec.reparam === 'repvgg') {
            const b = blocks[index];
            const fused = fuseRepVGG({
              inChannels: b.inChannels,
              outChannels: b.outChannels,
              kernel3: b.kernel3.dataSync() as Float32Array,
              bn3: bnValues(b.bn3),
              kernel1: b.kernel1.dataSync() as Float32Array,
              bn1: bnValues(b.bn1),
              ...(b.bnIdentity ? { bnIdentity: bnValues(b.bnIdentity) } : {}),
            });
            weights.push(tf.tensor(fused.kernel, [3, 3, c, cout]), tf.tensor(fused.bias));
          } else {
            weights.push(
              tf.tensor(values(model, `${name}/kernel`), [3, 3, c, cout]),
              tf.tensor(values(model, `${name}/bias`)),
            );
          }
          c = cout;
          index++;
        });
        layers.push(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'valid', name: `pool${si}` }));
        h = Math.floor(h / 2);
        w = Math.floor(w / 2);
      });
      layers.push(tf.layers.flatten({ name: 'flatten' }));
      if (spec.dense > 0) {
        layers.push(tf.layers.dense({ units: spec.dense, activation: 'relu', name: 'dense' }));
        weights.push(
          tf.tensor(values(model, 'dense/kernel'), [h * w * c, spec.dense]),
          tf.tensor(values(model, 'dense/bias')),
        );
      }
      break;
    }
    default: {
      const never: never = spec;
      throw new Error(`unknown model spec ${JSON.stringify(never)}`);
    }
  }
  layers.push(tf.layers.dense({ units: model.numClasses, useBias: false, activation, name: 'head' }));
  weights.push(tf.tensor(values(model, HEAD_KERNEL), [model.featureSize, model.numClasses]));
  const lm = tf.sequential({ layers, name: `meshfl_${spec.kind}` });
  try {
    lm.setWeights(weights);
  } catch (err) {
    lm.dispose();
    throw err;
  } finally {
    tf.dispose(weights);
  }
  return lm;
}

/** Serialises a LayersModel to the files of a LayersModel directory (no file system needed). */
export async function layersModelFiles(lm: tf.LayersModel, metadata?: ExportMetadata): Promise<LayersModelFiles> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await lm.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (artifacts?.modelTopology === undefined || artifacts.weightSpecs === undefined) {
    throw new Error('tfjs saved no topology or weights');
  }
  const data = artifacts.weightData;
  const buffer =
    data === undefined ? new ArrayBuffer(0) : Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
  return {
    modelJson: {
      modelTopology: artifacts.modelTopology as tf.io.ModelJSON['modelTopology'],
      format: 'layers-model',
      generatedBy: artifacts.generatedBy ?? 'meshfl',
      convertedBy: null,
      weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs }],
      ...(metadata ? { userDefinedMetadata: { ...metadata } } : {}),
    },
    weights: new Uint8Array(buffer),
  };
}

/** `model` as LayersModel directory files (built-in models as in toLayersModel). */
export async function exportModelFiles(
  model: Model,
  options: ExportOptions & { readonly metadata?: ExportMetadata } = {},
): Promise<LayersModelFiles> {
  const lm = toLayersModel(model, options);
  try {
    return await layersModelFiles(lm, options.metadata);
  } finally {
    lm.dispose();
  }
}

/** A tfjs IOHandler that loads LayersModel directory files from memory (tf.loadLayersModel(handler)). */
export function filesHandler(files: LayersModelFiles): tf.io.IOHandler {
  return tf.io.fromMemory({
    modelTopology: files.modelJson.modelTopology,
    weightSpecs: files.modelJson.weightsManifest.flatMap((g) => g.weights),
    weightData: files.weights.buffer.slice(
      files.weights.byteOffset,
      files.weights.byteOffset + files.weights.byteLength,
    ) as ArrayBuffer,
  });
}

/** The scalar entries of a model file's metadata (round, taskId, peerId, ...), for model.json. */
export function scalarMetadata(meta: Readonly<Record<string, unknown>>): ExportMetadata {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) out[k] = v;
  }
  return out;
}

/**
 * A model file (a checkpoint, `meshfl train --out`) as LayersModel directory files: builds
 * its model, loads every layer, exports it (RepVGG fused). Needs an initialised tfjs backend.
 */
export async function exportModelFile(file: ModelFile, options: ExportOptions = {}): Promise<LayersModelFiles> {
  await prepareModel(file.spec);
  const model = buildModel(file.spec, file.inputShape, file.numClasses, 0);
  try {
    setWeights(model, file.weights);
    return await exportModelFiles(model, { ...options, metadata: scalarMetadata(file.meta) });
  } finally {
    model.dispose();
  }
}
