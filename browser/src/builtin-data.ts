/**
 * The built-in MNIST shard: parses the IDX assets (see shard-layout.ts) and picks one iid
 * shard of the pool plus the common evaluation set. Environment-neutral; the page fetches
 * the bytes, Node (the e2e harness) generates them.
 */
import { type Dataset, subset } from '../../src/data/dataset.ts';
import { idxToDataset, parseIdx } from '../../src/data/idx.ts';
import { partitionDataset } from '../../src/data/partition.ts';
import type { PeerData } from '../../src/peer/peer.ts';
import { ASSETS, type AssetName, SHARD_COUNT, SHARD_SEED, VALIDATION_PER_CLASS } from './shard-layout.ts';

export type AssetBytes = Readonly<Record<AssetName, Uint8Array>>;

export interface BuiltinData {
  readonly pool: Dataset;
  readonly evaluation: Dataset;
}

const MNIST_CLASSES = 10;

export function parseBuiltin(bytes: AssetBytes): BuiltinData {
  const pool = idxToDataset(
    parseIdx(bytes.trainImages, ASSETS.trainImages),
    parseIdx(bytes.trainLabels, ASSETS.trainLabels),
    MNIST_CLASSES,
    'built-in training pool',
  );
  const evaluation = idxToDataset(
    parseIdx(bytes.evalImages, ASSETS.evalImages),
    parseIdx(bytes.evalLabels, ASSETS.evalLabels),
    MNIST_CLASSES,
    'built-in evaluation set',
  );
  return { pool, evaluation };
}

export function checkShardIndex(shard: number): number {
  if (!(Number.isInteger(shard) && shard >= 0 && shard < SHARD_COUNT)) {
    throw new RangeError(`shard must be an integer in [0, ${SHARD_COUNT}), got ${shard}`);
  }
  return shard;
}

/** Shard `shard` of the pool as a peer's training and validation split, evaluated on the common set. */
export function builtinShard(data: BuiltinData, shard: number): PeerData {
  checkShardIndex(shard);
  const parts = partitionDataset(
    data.pool,
    { kind: 'iid' },
    { peers: SHARD_COUNT, seed: SHARD_SEED, validationPerClass: VALIDATION_PER_CLASS },
  );
  const part = parts[shard];
  if (!part) throw new RangeError(`no shard ${shard}`);
  return {
    train: subset(data.pool, part.train),
    validation: subset(data.pool, part.validation),
    familiarClasses: part.familiarClasses,
    evaluation: data.evaluation,
  };
}

/** Fetches the built-in assets from the page's base URL. */
export async function fetchBuiltin(baseUrl: string, signal: AbortSignal): Promise<BuiltinData> {
  const entries = await Promise.all(
    (Object.keys(ASSETS) as AssetName[]).map(async (name) => {
      const url = new URL(ASSETS[name], baseUrl);
      const response = await fetch(url, { signal });
      if (!response.ok) throw new Error(`built-in data ${url} answered HTTP ${response.status}`);
      return [name, new Uint8Array(await response.arrayBuffer())] as const;
    }),
  );
  return parseBuiltin(Object.fromEntries(entries) as Record<AssetName, Uint8Array>);
}
