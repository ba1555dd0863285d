/**
 * tfjs LayersModel directories on disk (model.json + weights.bin): written by `meshfl
 * export`, and read back in Node, where tfjs without tfjs-node has no file:// handler:
 * `await tf.loadLayersModel(layersModelDir('out/model'))`. In a browser, serve the directory
 * and call `tf.loadLayersModel(url + '/model.json')`.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { LayersModelFiles } from '../src/model/export.ts';
import { WEIGHTS_FILE } from '../src/model/export.ts';
import { writeFileAtomic } from './model-store.ts';

export const MODEL_JSON = 'model.json';

/** Writes the files into `dir` (created if needed): weights first, then model.json, each atomically. */
export function writeLayersModelDir(dir: string, files: LayersModelFiles): { modelJson: string; weights: string } {
  mkdirSync(dir, { recursive: true });
  const weights = path.join(dir, WEIGHTS_FILE);
  const modelJson = path.join(dir, MODEL_JSON);
  writeFileAtomic(weights, files.weights);
  writeFileAtomic(modelJson, new TextEncoder().encode(`${JSON.stringify(files.modelJson)}\n`));
  return { modelJson, weights };
}

/** A tfjs load handler for a LayersModel directory (or its model.json) on disk. */
export function layersModelDir(dirOrModelJson: string): tf.io.IOHandler {
  const modelJsonPath = dirOrModelJson.endsWith('.json') ? dirOrModelJson : path.join(dirOrModelJson, MODEL_JSON);
  const dir = path.dirname(modelJsonPath);
  return {
    load: async () => {
      const json = JSON.parse(readFileSync(modelJsonPath, 'utf8')) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const buffers: Uint8Array[] = [];
        for (const group of manifest) {
          for (const p of group.paths) {
            // The manifest is input: its paths stay inside the model's directory.
            const file = path.resolve(dir, p);
            if (path.relative(dir, file).startsWith('..'))
              throw new Error(`${modelJsonPath}: weights path ${p} leaves the directory`);
            buffers.push(readFileSync(file));
          }
        }
        const all = Buffer.concat(buffers);
        const data = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
        return [manifest.flatMap((g) => g.weights), data];
      });
    },
  };
}
