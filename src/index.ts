/**
 * meshfl: peer-to-peer federated learning. The stable public API, the same in browsers
 * and in Node (Node-only pieces: `meshfl/node`). Everything not exported here is internal
 * and may change without notice.
 *
 * @example
 * ```ts
 * import { Bus, createPeer, makeSynthetic, parseTaskSpec, partitionDataset, peerDataFor } from 'meshfl'
 *
 * const task = parseTaskSpec({ taskId: 'demo', dataset: 'synthetic', model: { kind: 'mlp', hidden: [32] } })
 * const { train } = makeSynthetic({ seed: 1 })
 * const parts = partitionDataset(train, { kind: 'iid' }, { peers: 3, seed: 1 })
 * const bus = new Bus()
 * const peers = await Promise.all(parts.map((part, i) =>
 *   createPeer(task, { gossip: bus.join(`p${i}`), data: peerDataFor(train, part), seed: i })))
 * for (const p of peers) p.addEventListener('round:end', (e) => console.log(p.id, e.detail.candidates))
 * for (const p of peers) await p.start()
 * await Promise.all(peers.map((p) => p.run(3)))
 * await Promise.all(peers.map((p) => p.stop()))
 * ```
 */
import type { Dataset } from './data/dataset.ts';
import { subset } from './data/dataset.ts';
import type { PeerPartition } from './data/partition.ts';
import type { PeerData } from './peer/peer.ts';

// Data sets and partitions.
export {
  classCounts,
  type Dataset,
  featureSize,
  sampleCount,
  subset,
  type TrainTest,
} from './data/dataset.ts';
export {
  DATASET_FAMILIES,
  DATASET_NAMES,
  DATASET_SHAPES,
  type DatasetFamily,
  type DatasetName,
} from './data/families.ts';
export { type IdxArray, idxToDataset, parseIdx } from './data/idx.ts';
export { PARTITION_DEFAULTS, type PartitionOptions, type PeerPartition, partitionDataset } from './data/partition.ts';
export { formatPartitionSpec, type PartitionSpec, parsePartitionSpec } from './data/partition-spec.ts';
export { makeSynthetic, SYNTHETIC_DEFAULTS, type SyntheticOptions } from './data/synthetic.ts';
// Merge strategies.
export { createStrategy, DEFAULT_STRATEGY, type StrategySpec, strategyNames } from './merge/registry.ts';
export type { MergeReport } from './merge/report.ts';
export type { Candidate, ClassScores, MergeContext, OutputLayer, Strategy } from './merge/types.ts';
// Models and weights.
export { DEFAULT_VALUE_BOUND } from './model/bounds.ts';
export {
  type ExportMetadata,
  type ExportOptions,
  exportModelFile,
  exportModelFiles,
  filesHandler,
  type LayersModelFiles,
  layersModelFiles,
  toLayersModel,
  WEIGHTS_FILE,
} from './model/export.ts';
export { buildModel, getWeights, type Model, setWeights } from './model/model.ts';
export { decodeModelFile, encodeModelFile, type ModelFile } from './model/model-file.ts';
export {
  type BatchNormStats,
  DEFAULT_CNN,
  DEFAULT_MLP,
  defaultSpec,
  MODEL_NAMES,
  type ModelSpec,
  parseModelSpec,
  type TfjsSpec,
} from './model/spec.ts';
export { prepareModel } from './model/tfjs-model.ts';
export { SUPPORTED_LAYERS } from './model/tfjs-topology.ts';
export type { Layer, Weights } from './model/weights.ts';
// Networking: the Gossip contract and its implementations.
export { type BrowserLibp2pInit, createBrowserLibp2p } from './net/browser-factory.ts';
export type { Gossip, GossipMessage } from './net/gossip.ts';
export type { Topology } from './net/graph.ts';
export { Bus, type BusInit } from './net/inproc-bus.ts';
export { createLibp2pGossip, type Libp2pGossip, type Libp2pGossipInit } from './net/libp2p-gossip.ts';
export { createMemoryLibp2p, type MemoryLibp2pInit, type MeshflNode } from './net/memory-factory.ts';
export { connectTopology, waitForSubscribers } from './net/topology.ts';
// The task, the peer and its events.
export {
  CREATE_PEER_DEFAULTS,
  type CreatePeerOptions,
  createPeer,
  createTaskTrainer,
  type TaskTrainerInit,
  type TrainerTuning,
  type TrainingFactory,
  taskModelLayout,
} from './peer/create-peer.ts';
export type {
  AccuracySnapshot,
  PeerEvents,
  RejectedUpdate,
  RoundClose,
  RoundSummary,
  TaskMismatchEvent,
} from './peer/events.ts';
export {
  type LocalTraining,
  PEER_DEFAULTS,
  Peer,
  type PeerData,
  type PeerOptions,
  type WireBounds,
} from './peer/peer.ts';
export {
  DEFAULT_TASK,
  dataProblem,
  encodeTaskSpec,
  MAX_TASK_SPEC_BYTES,
  parseTaskSpec,
  safeParseTaskSpec,
  sameTask,
  TASK_DEFAULTS,
  type TaskSpec,
  TaskSpecError,
  type TaskSpecIssue,
  type TaskSpecParse,
  taskSpecRecord,
  taskWireSchema,
} from './peer/task.ts';
export { decodeTask, fetchTask, serveTask, TASK_PROTOCOL, type TaskFetchResult } from './peer/task-exchange.ts';
export {
  type DescribeOptions,
  describeTaskMismatch,
  TASK_SPEC_KEYS,
  type TaskDifference,
  type TaskKeyNames,
  type TaskMismatch,
} from './peer/task-mismatch.ts';
// Training.
export { type BackendChoice, type BackendOptions, initBackend } from './train/backend.ts';
export { type GradientExchange, type TrainAmount, Trainer, type TrainerOptions } from './train/trainer.ts';
// Wire format.
export { type CodecSpec, codecFamily, formatCodec, parseCodec } from './wire/codec-spec.ts';
export { type TaskIdentity, taskFingerprint } from './wire/schema.ts';

/**
 * A peer's PeerData from its share of `dataset` (an element of `partitionDataset(...)`).
 * `evaluation` is where round accuracy is measured (default: the share's validation split).
 */
export function peerDataFor(dataset: Dataset, part: PeerPartition, evaluation?: Dataset): PeerData {
  return {
    train: subset(dataset, part.train),
    validation: subset(dataset, part.validation),
    familiarClasses: part.familiarClasses,
    ...(evaluation ? { evaluation } : {}),
  };
}
