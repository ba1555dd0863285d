/**
 * The federated task a browser peer joins by default: MNIST digits, a small MLP, the same
 * initial weights everywhere (common seed). Node peers of the same task (the e2e harness,
 * a daemon) must build the identical model, so this file is the single definition both
 * import. A daemon's `/status` may name another task id.
 */
import type { ModelSpec } from '../../src/model/spec.ts';

export interface TaskConfig {
  readonly taskId: string;
  readonly model: ModelSpec;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  /** Seed of the common initial model. */
  readonly modelSeed: number;
  /** Update codec (int8 keeps an update under the inline gossip limit). */
  readonly codec: string;
  /** Merge strategy name (see src/merge/registry.ts). */
  readonly strategy: string;
  readonly batchSize: number;
  readonly learningRate: number;
  /** Local training steps per round. */
  readonly localSteps: number;
  /**
   * A full model every this many rounds. Short for browser tasks: a page cannot fetch a
   * snapshot from a peer it has no direct connection to (it only hears it through the
   * daemon's gossip), so it waits for the next keyframe before it can use that peer.
   */
  readonly keyframeInterval: number;
}

export const MNIST_TASK: TaskConfig = {
  taskId: 'mnist-browser',
  model: { kind: 'mlp', hidden: [32] },
  inputShape: [28, 28, 1],
  numClasses: 10,
  modelSeed: 7,
  codec: 'int8',
  strategy: 'mean',
  batchSize: 32,
  learningRate: 0.05,
  localSteps: 8,
  keyframeInterval: 3,
};

/** Task ids are short printable names (they become part of a gossip topic). */
const TASK_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export function withTaskId(task: TaskConfig, taskId: string): TaskConfig {
  if (!TASK_ID_PATTERN.test(taskId)) throw new RangeError(`task id "${taskId}" must match ${TASK_ID_PATTERN}`);
  return { ...task, taskId };
}
