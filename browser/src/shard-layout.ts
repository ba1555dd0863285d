/**
 * The built-in data shipped with the page: a pool of MNIST training images split into
 * `SHARD_COUNT` iid shards (a page trains on one, chosen by `?shard=` or at random) and a
 * common evaluation set from MNIST's test split. Generated at build time by
 * browser/build/mnist-assets.ts; names and sizes are shared by both sides here.
 */
export const SHARD_COUNT = 6;
export const SHARD_SIZE = 500;
export const POOL_SIZE = SHARD_COUNT * SHARD_SIZE;
export const EVAL_SIZE = 500;
/** Seed of the iid split of the pool into shards. */
export const SHARD_SEED = 11;
/** Validation samples per class taken from a shard (Bristle's per-peer validation split). */
export const VALIDATION_PER_CLASS = 5;

/** Asset file names (IDX, uint8), relative to the page's base URL. */
export const ASSETS = {
  trainImages: 'data/mnist-pool-images.idx',
  trainLabels: 'data/mnist-pool-labels.idx',
  evalImages: 'data/mnist-eval-images.idx',
  evalLabels: 'data/mnist-eval-labels.idx',
} as const;

export type AssetName = keyof typeof ASSETS;
