/**
 * The task protocol (`/meshfl/1/task`): a peer answers an empty request with its TaskSpec's
 * canonical JSON. A page or a joining daemon builds its model from the answer; a peer whose
 * update was rejected as 'wrong-fingerprint' asks the sender, to say what differs.
 *
 * The answer is untrusted like every peer message: bounded (MAX_TASK_SPEC_BYTES), fetched
 * under a timeout, decoded and parsed with parseTaskSpec before anything reads it.
 */
import type { Gossip } from '../net/gossip.ts';
import { TASK_PROTOCOL } from '../wire/constants.ts';
import { encodeTaskSpec, MAX_TASK_SPEC_BYTES, safeParseTaskSpec, type TaskSpec } from './task.ts';

export { TASK_PROTOCOL };

/** Time allowed for one task fetch (a few hundred bytes: slow means unreachable). */
export const TASK_FETCH_TIMEOUT_MS = 5_000;

/** After a wrong-fingerprint rejection, a sender's task is fetched at most once per this long. */
export const TASK_PROBE_INTERVAL_MS = 5 * 60_000;

/** Senders whose last probe time is remembered; the oldest is forgotten beyond this. */
export const TASK_PROBE_MAX_PEERS = 256;

export type TaskFetchResult =
  | { readonly ok: true; readonly task: TaskSpec }
  /** The peer answered something that is not a task: broken or hostile. */
  | { readonly ok: false; readonly reason: 'invalid-task'; readonly detail: string }
  /** No answer: unreachable, timed out, refused, or the request was aborted. */
  | { readonly ok: false; readonly reason: 'unavailable'; readonly detail: string };

/** Serves `task` on `/meshfl/1/task`; requests carry no body, anything else is refused. */
export async function serveTask(gossip: Gossip, task: TaskSpec): Promise<void> {
  const bytes = new TextEncoder().encode(encodeTaskSpec(task));
  await gossip.handle(TASK_PROTOCOL, async () => bytes, { maxRequestBytes: 0, stage: 'task' });
}

/** Asks `peer` for its task. Never throws: failures are typed results. */
export async function fetchTask(gossip: Gossip, peer: string, signal?: AbortSignal): Promise<TaskFetchResult> {
  const timeout = AbortSignal.timeout(TASK_FETCH_TIMEOUT_MS);
  let bytes: Uint8Array;
  try {
    bytes = await gossip.fetch(peer, TASK_PROTOCOL, new Uint8Array(0), {
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      maxResponseBytes: MAX_TASK_SPEC_BYTES,
    });
  } catch (err) {
    return { ok: false, reason: 'unavailable', detail: err instanceof Error ? err.message : String(err) };
  }
  return decodeTask(bytes);
}

/** Decodes and validates a task answer (UTF-8 JSON of a TaskSpec). */
export function decodeTask(bytes: Uint8Array): TaskFetchResult {
  if (bytes.byteLength > MAX_TASK_SPEC_BYTES) {
    return { ok: false, reason: 'invalid-task', detail: `${bytes.byteLength} bytes, limit ${MAX_TASK_SPEC_BYTES}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    return { ok: false, reason: 'invalid-task', detail: `not JSON: ${err instanceof Error ? err.message : err}` };
  }
  const parsed = safeParseTaskSpec(json);
  if (!parsed.ok) {
    const detail = parsed.issues.map((i) => (i.key === '' ? i.problem : `${i.key}: ${i.problem}`)).join('; ');
    return { ok: false, reason: 'invalid-task', detail };
  }
  return { ok: true, task: parsed.task };
}

/**
 * When to ask a sender for its task again: at most once per `intervalMs` per sender,
 * remembering at most `maxPeers` senders (the oldest probe is forgotten first), so neither
 * a flood of rejected updates nor a flood of fresh identities makes unbounded work.
 */
export class TaskProbeLimiter {
  readonly #intervalMs: number;
  readonly #maxPeers: number;
  /** Sender -> time of its last probe; insertion order is probe order. */
  readonly #last = new Map<string, number>();

  constructor(intervalMs = TASK_PROBE_INTERVAL_MS, maxPeers = TASK_PROBE_MAX_PEERS) {
    this.#intervalMs = intervalMs;
    this.#maxPeers = maxPeers;
  }

  /** True (and remembered) when `peer` may be probed at `now`. */
  take(peer: string, now: number): boolean {
    const last = this.#last.get(peer);
    if (last !== undefined && now - last < this.#intervalMs) return false;
    this.#last.delete(peer);
    this.#last.set(peer, now);
    while (this.#last.size > this.#maxPeers) {
      const oldest = this.#last.keys().next().value as string;
      this.#last.delete(oldest);
    }
    return true;
  }
}
