/**
 * Builds the trainer and the Peer for a task, the same way in the page and in Node
 * peers of the same task (the e2e harness), so every participant starts from the same
 * model and speaks the same codec.
 */
import type { Dataset } from '../../src/data/dataset.ts';
import { createStrategy } from '../../src/merge/index.ts';
import { buildModel } from '../../src/model/model.ts';
import type { Gossip } from '../../src/net/gossip.ts';
import { Peer, type PeerData } from '../../src/peer/peer.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { DEADLINE, MIN_FRESH_UPDATES } from './constants.ts';
import type { TaskConfig } from './task.ts';

export interface TaskPeerInit {
  readonly task: TaskConfig;
  readonly data: PeerData;
  readonly gossip: Gossip;
  /** Seeds this peer's batch order and merge randomness. */
  readonly seed: number;
}

/** Throws a clear error when a data set does not fit the task's model. */
export function assertFitsTask(data: Dataset, task: TaskConfig, what: string): void {
  const shape = data.featureShape.join('x');
  if (shape !== task.inputShape.join('x')) {
    throw new RangeError(`${what}: samples are ${shape}, task ${task.taskId} needs ${task.inputShape.join('x')}`);
  }
  if (data.numClasses !== task.numClasses) {
    throw new RangeError(`${what}: ${data.numClasses} classes, task ${task.taskId} has ${task.numClasses}`);
  }
}

export function createTaskPeer(init: TaskPeerInit): Peer {
  const { task, data, gossip, seed } = init;
  assertFitsTask(data.train, task, 'training data');
  const model = buildModel(task.model, task.inputShape, task.numClasses, task.modelSeed);
  const trainer = new Trainer(model, {
    batchSize: task.batchSize,
    seed,
    optimizer: { learningRate: task.learningRate },
  });
  return new Peer({
    taskId: task.taskId,
    trainer,
    data,
    strategy: createStrategy(task.strategy),
    gossip,
    codec: task.codec,
    keyframeInterval: task.keyframeInterval,
    local: { steps: task.localSteps },
    minFreshUpdates: MIN_FRESH_UPDATES,
    deadline: DEADLINE,
    seed,
  });
}
