/**
 * How many threads train one model (`meshfl train --threads`, the daemon's
 * `resources.threads`): the checks and defaults, without loading tfjs (the CLI answers bad
 * flags before it imports anything heavy).
 */
import type { ModelSpec } from '../../src/model/spec.ts';
import type { Trainable } from '../../src/train/trainer.ts';

/** Thread counts accepted (CLI flag and daemon config). */
export const MAX_THREADS = 64;
/**
 * One thread unless asked: measured (docs/PERFORMANCE.md, "One model on several threads"),
 * two threads train the default MLP no faster than one even on a quiet machine (half a
 * batch still costs about 0.7 of a whole one, plus the per-step exchange) and about half as
 * fast on a busy one, where each step waits for the slower thread. The CNN gains more; opt
 * in with `--threads` / `resources.threads` where the cores are free.
 */
export const DEFAULT_THREADS = 1;

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

/** Largest `syncEvery` accepted (CLI flag and daemon config). */
export const MAX_SYNC_EVERY = 1000;

/** Throws a RangeError unless `syncEvery` is an integer in [1, MAX_SYNC_EVERY]. */
export function checkSyncEvery(syncEvery: number, what = 'syncEvery'): number {
  if (!(Number.isInteger(syncEvery) && syncEvery >= 1 && syncEvery <= MAX_SYNC_EVERY))
    throw new RangeError(`${what} must be an integer in [1, ${MAX_SYNC_EVERY}], got ${syncEvery}`);
  return syncEvery;
}

/**
 * Steps between the replicas' synchronisations when none is asked for (measured in
 * docs/PERFORMANCE.md, "One model on several threads", one epoch of MNIST on 2 threads
 * against 1). MLP: local SGD every 16 steps kept the test accuracy of 1 thread (seeds 1-3:
 * -0.04, +0.02, -0.03 points) and needs one barrier per 16 steps. CNN: local SGD lost 0.35-1.29
 * points at k = 2, 4, 8, 16 (seed 1), outside the 0.3 the issue allows, so it keeps summing
 * the gradients every step (the updates of one thread).
 */
export function defaultSyncEvery(spec: ModelSpec): number {
  return spec.kind === 'mlp' ? 16 : 1;
}
