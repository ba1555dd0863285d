/**
 * `join` without a model section: dial the peer, fetch its TaskSpec over `/meshfl/1/task`,
 * and build the identical model from it. The peer may still be starting, so the dial and
 * the fetch are retried with backoff until JOIN_TIMEOUT_MS; an answer that is not a task
 * is final (the peer is broken or hostile, and retrying would not change it).
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import type { TaskSpec } from '../../src/peer/task.ts';
import { fetchTask } from '../../src/peer/task-exchange.ts';
import type { Logger } from './logger.ts';

/** Time to reach the joined peer and get its task before the daemon gives up (exit 2). */
export const JOIN_TIMEOUT_MS = 60_000;
/** Time for one dial of the joined peer. */
export const JOIN_DIAL_TIMEOUT_MS = 10_000;
/** Waits between attempts: doubling from the first, capped at the second. */
export const JOIN_RETRY_MS = [500, 5_000] as const;

/** The joined peer could not give its task: an operator error (exit code 2). */
export class JoinError extends Error {
  override readonly name = 'JoinError';
}

/** Fetches the task of the peer at `address` (a multiaddr with /p2p/). Throws JoinError. */
export async function fetchJoinedTask(
  gossip: Libp2pGossip,
  address: string,
  stop: AbortSignal,
  logger: Logger,
): Promise<TaskSpec> {
  const target = multiaddr(address);
  const peer = target.getComponents().findLast((c) => c.name === 'p2p')?.value;
  if (peer === undefined) throw new JoinError(`join ${address}: no /p2p/<peer id>`);
  const peerId = peerIdFromString(peer);
  const deadline = AbortSignal.timeout(JOIN_TIMEOUT_MS);
  const signal = AbortSignal.any([stop, deadline]);
  let wait: number = JOIN_RETRY_MS[0];
  let last = 'not tried';
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      await gossip.node.dial(target, { signal: AbortSignal.any([signal, AbortSignal.timeout(JOIN_DIAL_TIMEOUT_MS)]) });
      const result = await fetchTask(gossip, peerId.toString(), signal);
      if (result.ok) return result.task;
      if (result.reason === 'invalid-task')
        throw new JoinError(`join ${address}: the peer's task is invalid: ${result.detail}`);
      last = result.detail;
    } catch (err) {
      if (err instanceof JoinError) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    logger.info('waiting for the joined peer', { address, attempt, problem: last });
    await sleep(wait, signal);
    wait = Math.min(wait * 2, JOIN_RETRY_MS[1]);
  }
  if (stop.aborted) throw new JoinError(`join ${address}: stopped before the task arrived`);
  throw new JoinError(`join ${address}: no task within ${JOIN_TIMEOUT_MS / 1000} s (last problem: ${last})`);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
