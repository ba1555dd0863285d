/** Shared setup for Peer tests: MNIST shards for a handful of peers with small MLPs. */

import { loadDataset } from '../../node/datasets.ts';
import { type Dataset, subset } from '../../src/data/dataset.ts';
import { partitionDataset } from '../../src/data/partition.ts';
import { createStrategy, type StrategySpec } from '../../src/merge/index.ts';
import type { Gossip } from '../../src/net/gossip.ts';
import { createTaskTrainer } from '../../src/peer/create-peer.ts';
import { Peer, type PeerOptions } from '../../src/peer/peer.ts';
import { parseTaskSpec, type TaskSpec } from '../../src/peer/task.ts';
import { initBackend } from '../../src/train/backend.ts';

export const TASK = 'mnist-test';

export interface PeerKit {
  readonly task: TaskSpec;
  readonly evaluation: Dataset;
  make(gossip: Gossip, index: number, extra?: Partial<PeerOptions>): Peer;
}

/** MNIST split iid over `peers` shares of `perPeer` samples; a shared 500-sample evaluation set. */
export async function peerKit(
  peers: number,
  options: { perPeer?: number; strategy?: StrategySpec; seed?: number } = {},
): Promise<PeerKit> {
  await initBackend('wasm');
  const seed = options.seed ?? 7;
  const { train, test } = loadDataset('mnist');
  const perPeer = options.perPeer ?? 400;
  const pool = subset(
    train,
    Uint32Array.from({ length: peers * perPeer }, (_, i) => i),
  );
  const parts = partitionDataset(pool, { kind: 'iid' }, { peers, seed, validationPerClass: 5 });
  const evaluation = subset(
    test,
    Uint32Array.from({ length: 500 }, (_, i) => i),
  );
  // Same initial model everywhere (common init), own batch order per peer.
  const task = parseTaskSpec({
    taskId: TASK,
    model: { kind: 'mlp', hidden: [32] },
    modelSeed: seed,
    codec: 'fp32',
    strategy: options.strategy ?? 'mean',
    batchSize: 32,
    learningRate: 0.05,
    localSteps: 8,
    dataset: 'mnist',
  });
  return {
    task,
    evaluation,
    make(gossip, index, extra = {}) {
      const part = parts[index % peers];
      if (!part) throw new Error(`no partition ${index}`);
      return new Peer({
        task,
        trainer: createTaskTrainer(task, { seed: seed + index }),
        data: {
          train: subset(pool, part.train),
          validation: subset(pool, part.validation),
          familiarClasses: part.familiarClasses,
          evaluation,
        },
        strategy: createStrategy(task.strategy),
        gossip,
        minFreshUpdates: 3,
        deadline: { initialMs: 3000, minMs: 200, maxMs: 6000 },
        seed: seed + index,
        ...extra,
      });
    },
  };
}
