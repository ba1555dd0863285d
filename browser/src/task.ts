/**
 * The task a page runs when its daemon does not say which (no `GET /task`, e.g. the Vite dev
 * server): MNIST digits with a small MLP. A TaskSpec like every other task, so a daemon or a
 * Node peer of the same task builds the identical model from it; a page served by a daemon
 * should take the daemon's task (`GET /task`, parsed with parseTaskSpec) instead.
 */
import { parseTaskSpec, type TaskSpec, taskSpecRecord } from '../../src/peer/task.ts';

/** What the page calls its task (session.ts, user-data.ts): a TaskSpec. */
export type TaskConfig = TaskSpec;

export const MNIST_TASK: TaskSpec = parseTaskSpec({
  taskId: 'mnist-browser',
  model: { kind: 'mlp', hidden: [32] },
  modelSeed: 7,
  // int8 keeps an update under the inline gossip limit.
  codec: 'int8',
  strategy: 'mean',
  batchSize: 32,
  learningRate: 0.05,
  localSteps: 8,
  // Short: a page cannot fetch a snapshot from a peer it has no direct connection to (it
  // hears it only through the daemon's gossip), so it waits for that peer's next keyframe.
  keyframeInterval: 3,
  dataset: 'mnist',
});

/** `task` under another id (the daemon's, from its /status); throws a TaskSpecError naming the rule. */
export function withTaskId(task: TaskSpec, taskId: string): TaskSpec {
  return parseTaskSpec({ ...taskSpecRecord(task), taskId });
}

/**
 * A page hears most peers only through its daemon's gossip and cannot fetch their
 * snapshots, so it waits for their next keyframe: it asks for one every few rounds.
 */
export const PAGE_KEYFRAME_INTERVAL = 3;

/** The daemon's task with the page's own device settings (none of them fingerprinted). */
export function withPageSettings(task: TaskSpec): TaskSpec {
  return parseTaskSpec({ ...taskSpecRecord(task), keyframeInterval: PAGE_KEYFRAME_INTERVAL });
}
