/**
 * meshfl/node: the Node-only half of the public API (filesystem, TCP). Everything in
 * `meshfl` works here too; this entry adds what browsers cannot have.
 *
 * @example
 * ```ts
 * import { createLibp2pGossip, createPeer, DEFAULT_TASK, fetchTask, peerDataFor, partitionDataset } from 'meshfl'
 * import { createNodeLibp2p, loadDataset } from 'meshfl/node'
 *
 * const { train } = loadDataset('mnist')
 * const [part] = partitionDataset(train, { kind: 'iid' }, { peers: 10, seed: 1 })
 * const gossip = await createLibp2pGossip(await createNodeLibp2p({ bootstrap: [addr] }))
 * // The default task (MNIST, MLP [256, 128]), or the task of a daemon: fetchTask(gossip, daemonPeerId)
 * const peer = await createPeer(DEFAULT_TASK, { gossip, data: peerDataFor(train, part), seed: 3 })
 * ```
 */

export type { CsvOptions } from '../src/data/csv.ts';
export type { ModelFile } from '../src/model/model-file.ts';
export {
  clearDatasetCache,
  DATASET_NAMES,
  type DatasetName,
  type FashionMnistOptions,
  type IdxDirectoryOptions,
  type LoadDatasetOptions,
  loadCsv,
  loadDataset,
  loadFashionMnist,
  loadIdxDirectory,
  loadMnist,
} from './datasets.ts';
export { layersModelDir, MODEL_JSON, writeLayersModelDir } from './model-export.ts';
export { loadModelFile, saveModelFile } from './model-store.ts';
export { createNodeLibp2p, type NodeLibp2pInit } from './node-factory.ts';
