/**
 * How many threads train one model (`meshfl train --threads`, the daemon's
 * `resources.threads`): the checks and defaults, without loading tfjs (the CLI answers bad
 * flags before it imports anything heavy).
 */
import { availableParallelism } from 'node:os';
import type { Trainable } from '../../src/train/trainer.ts';

/** Thread counts accepted (CLI flag and daemon config). */
export const MAX_THREADS = 64;
/**
 * The default thread count is the machine's cores up to this many: each thread trains 1/W of
 * a batch (8 samples of 64 at W = 8, where the per-step exchange and small matrix products
 * eat the gain) and holds its own copy of the model and tfjs backend.
 */
export const DEFAULT_MAX_THREADS = 4;

/** The machine's cores (os.availableParallelism), at most DEFAULT_MAX_THREADS. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(availableParallelism(), DEFAULT_MAX_THREADS));
}

/** Throws a RangeError unless `threads` is an integer in [1, MAX_THREADS]. */
export function checkThreads(threads: number, what = 'threads'): number {
  if (!(Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS))
    throw new RangeError(`${what} must be an integer in [1, ${MAX_THREADS}], got ${threads}`);
  return threads;
}

/**
 * Replicas a trainer uses for `threads` threads: 1 (train on the calling thread, no worker)
 * when one thread is asked for, and in head mode (its steps train only the output layer on
 * cached backbone features: too small to split, and every replica would compute the
 * features again); never more than a batch has samples.
 */
export function replicasFor(
  threads: number,
  options: { readonly batchSize: number; readonly trainable: Trainable },
): number {
  checkThreads(threads);
  if (options.trainable === 'head') return 1;
  return Math.min(threads, options.batchSize);
}
