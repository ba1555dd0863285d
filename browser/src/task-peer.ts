/**
 * The page's Peer: the core's createPeer (the same construction as the daemon's and the
 * simulations'), with the page's round timing. The page initialises the tfjs backend
 * itself (it reports which one it got), so createPeer leaves it alone.
 */
import type { Dataset } from '../../src/data/dataset.ts';
import type { Gossip } from '../../src/net/gossip.ts';
import { createPeer } from '../../src/peer/create-peer.ts';
import type { Peer, PeerData } from '../../src/peer/peer.ts';
import { dataProblem, type TaskSpec } from '../../src/peer/task.ts';
import { DEADLINE, MIN_FRESH_UPDATES } from './constants.ts';

export interface TaskPeerInit {
  readonly task: TaskSpec;
  readonly data: PeerData;
  readonly gossip: Gossip;
  /** Seeds this peer's batch order and merge randomness. */
  readonly seed: number;
  /** D or 'all' (the mesh's kind: the daemon's round.neighbours); default the Peer's (8). */
  readonly neighbours?: number | 'all';
  /** Gossip steps per round; default the Peer's (2 with D, 1 with 'all'). */
  readonly gossipSteps?: number;
}

/** Throws a clear error when a data set does not fit the task's model. */
export function assertFitsTask(data: Dataset, task: TaskSpec, what: string): void {
  const problem = dataProblem(data, task);
  if (problem !== undefined) throw new RangeError(`${what}: ${problem}`);
}

export function createTaskPeer(init: TaskPeerInit): Promise<Peer> {
  const { task, data, gossip, seed, neighbours, gossipSteps } = init;
  return createPeer(task, {
    gossip,
    data,
    seed,
    backend: false,
    minFreshUpdates: MIN_FRESH_UPDATES,
    deadline: DEADLINE,
    ...(neighbours === undefined ? {} : { neighbours }),
    ...(gossipSteps === undefined ? {} : { gossipSteps }),
  });
}
