/**
 * meshfl: peer-to-peer federated learning. The stable public API, the same in browsers
 * and in Node (Node-only pieces: `meshfl/node`). Everything not exported here is internal
 * and may change without notice.
 *
 * @example
 * ```ts
 * import { Bus, createPeer, makeSynthetic, partitionDataset, peerDataFor } from 'meshfl'
 *
 * const { train } = makeSynthetic({ seed: 1 })
 * const parts = partitionDataset(train, { kind: 'iid' }, { peers: 3, seed: 1 })
 * const bus = new Bus()
 * const peers = await Promise.all(parts.map((part, i) =>
 *   createPeer({ gossip: bus.join(`p${i}`), data: peerDataFor(train, part), seed: i })))
 * for (const p of peers) p.addEventListener('round:end', (e) => console.log(p.id, e.detail.candidates))
 * for (const p of peers) await p.start()
 * await Promise.all(peers.map((p) => p.run(3)))
 * await Promise.all(peers.map((p) => p.stop()))
 * ```
 */
import type { Dataset } from './data/dataset.ts';
import { subset } from './data/dataset.ts';
import type { PeerPartition } from './data/partition.ts';
import { createStrategy, DEFAULT_STRATEGY, type StrategySpec } from './merge/registry.ts';
import type { Strategy } from './merge/types.ts';
import { buildModel } from './model/model.ts';
import { type ModelSpec, parseModelSpec } from './model/spec.ts';
import { Peer, type PeerData, type PeerOptions } from './peer/peer.ts';
import { type BackendChoice, type BackendOptions, initBackend } from './train/backend.ts';
import { Trainer, type TrainerOptions } from './train/trainer.ts';

// Data sets and partitions.
export {
  classCounts,
  type Dataset,
  featureSize,
  sampleCount,
  subset,
  type TrainTest,
} from './data/dataset.ts';
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
export { buildModel, getWeights, type Model, setWeights } from './model/model.ts';
export { decodeModelFile, encodeModelFile, type ModelFile } from './model/model-file.ts';
export { DEFAULT_CNN, DEFAULT_MLP, defaultSpec, type ModelSpec, parseModelSpec } from './model/spec.ts';
export type { Layer, Weights } from './model/weights.ts';
// Networking: the Gossip contract and its implementations.
export { type BrowserLibp2pInit, createBrowserLibp2p } from './net/browser-factory.ts';
export type { Gossip, GossipMessage } from './net/gossip.ts';
export type { Topology } from './net/graph.ts';
export { Bus, type BusInit } from './net/inproc-bus.ts';
export { createLibp2pGossip, type Libp2pGossip, type Libp2pGossipInit } from './net/libp2p-gossip.ts';
export { createMemoryLibp2p, type MemoryLibp2pInit, type MeshflNode } from './net/memory-factory.ts';
export { connectTopology, waitForSubscribers } from './net/topology.ts';
// The peer and its events.
export type { AccuracySnapshot, PeerEvents, RejectedUpdate, RoundClose, RoundSummary } from './peer/events.ts';
export { type LocalTraining, Peer, type PeerData, type PeerOptions, type WireBounds } from './peer/peer.ts';
// Training.
export { type BackendChoice, type BackendOptions, initBackend } from './train/backend.ts';
export { type TrainAmount, Trainer, type TrainerOptions } from './train/trainer.ts';
// Wire format.
export { type CodecSpec, formatCodec, parseCodec } from './wire/codec-spec.ts';

/** Defaults of {@link createPeer} (the Peer's own defaults are documented on PeerOptions). */
export const CREATE_PEER_DEFAULTS = {
  taskId: 'meshfl',
  model: 'mlp',
  modelSeed: 0,
  strategy: DEFAULT_STRATEGY,
  backend: 'auto',
} as const;

/** Options of {@link createPeer}: what to build, plus every PeerOptions tuning knob. */
export interface CreatePeerOptions
  extends Omit<PeerOptions, 'taskId' | 'trainer' | 'training' | 'strategy' | 'gossip' | 'data' | 'outgoing'> {
  /** How this peer talks to the others: `bus.join(id)` or `await createLibp2pGossip(node)`. */
  readonly gossip: PeerOptions['gossip'];
  /** This peer's local data (see {@link peerDataFor}); sample shape and class count come from `data.train`. */
  readonly data: PeerData;
  /** Peers only exchange updates with peers of the same task. Default "meshfl". */
  readonly taskId?: string;
  /** Architecture: "mlp", "cnn", "cnn-plain" or a ModelSpec. Default "mlp" (hidden [256, 128]). */
  readonly model?: string | ModelSpec;
  /** Seed of the initial weights; all peers of a task should share it (common init). Default 0. */
  readonly modelSeed?: number;
  /** A strategy name, `{ name, options }`, or your own Strategy function. Default "bristle+ldawa". */
  readonly strategy?: StrategySpec | Strategy;
  /** Local training options (batch size 32, SGD lr 0.05 momentum 0.9, trainable "all"; see TrainerOptions). */
  readonly trainer?: TrainerOptions;
  /**
   * tfjs backend to initialise first ("auto" = wasm, falling back to cpu), or `false` to
   * leave the backend as the caller set it up. Default "auto".
   */
  readonly backend?: BackendChoice | false;
  /** Backend options, e.g. `wasmPaths` in browsers. */
  readonly backendOptions?: BackendOptions;
}

/**
 * Builds a ready-to-start Peer: initialises the tfjs backend, builds the model for the
 * data's sample shape and classes, and wraps it in a Trainer and the named strategy.
 * Call `await peer.start()`, then `peer.run(rounds)`; `peer.stop()` when done.
 */
export async function createPeer(options: CreatePeerOptions): Promise<Peer> {
  const {
    gossip,
    data,
    taskId = CREATE_PEER_DEFAULTS.taskId,
    model = CREATE_PEER_DEFAULTS.model,
    modelSeed = CREATE_PEER_DEFAULTS.modelSeed,
    strategy = CREATE_PEER_DEFAULTS.strategy,
    trainer: trainerOptions,
    backend = CREATE_PEER_DEFAULTS.backend,
    backendOptions,
    ...peerOptions
  } = options;
  if (backend !== false) await initBackend(backend, backendOptions);
  const spec = parseModelSpec(model);
  const built = buildModel(spec, data.train.featureShape, data.train.numClasses, modelSeed);
  // Per-peer batch order by default, so equal seeds do not make peers train in lockstep.
  const trainer = new Trainer(built, { seed: peerOptions.seed, ...trainerOptions });
  return new Peer({
    ...peerOptions,
    taskId,
    gossip,
    data,
    trainer,
    strategy: typeof strategy === 'function' ? strategy : createStrategy(strategy),
  });
}

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
