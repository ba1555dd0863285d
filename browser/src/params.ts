/**
 * Page parameters from the URL (`?bootstrap=<multiaddr>&shard=<n>&backend=<name>&autostart=0|1
 * &neighbours=<D>|all&gossipSteps=<k>`)
 * and, when the page is served by a daemon, from its `/status` (the multiaddrs a browser
 * should dial, the task id).
 */
import { DEFAULT_NEIGHBOURS, MAX_GOSSIP_STEPS } from '../../src/peer/gossip-steps.ts';
import { safeParseTaskSpec, type TaskSpec, TaskSpecError } from '../../src/peer/task.ts';
import type { BackendChoice } from '../../src/train/backend.ts';
import { STATUS_TIMEOUT_MS } from './constants.ts';
import { parseDaemonAddr } from './network.ts';
import { SHARD_COUNT } from './shard-layout.ts';

export interface PageParams {
  readonly bootstrap: string | undefined;
  readonly shard: number;
  readonly backend: BackendChoice;
  /** `?autostart=1` / `?autostart=0`; undefined: start when a daemon is known (served by one, or ?bootstrap). */
  readonly autostart: boolean | undefined;
  readonly taskId: string | undefined;
  /** The page is served from this machine: plain /ws and loopback dials are allowed. */
  readonly loopbackPage: boolean;
  /** `?neighbours=<D>|all`: PeerOptions.neighbours; default DEFAULT_NEIGHBOURS (8), as the daemon's. */
  readonly neighbours: number | 'all';
  /** `?gossipSteps=<k>`: PeerOptions.gossipSteps; undefined: the Peer's default (2 with D, 1 with "all"). */
  readonly gossipSteps: number | undefined;
}

/** Most neighbours `?neighbours=` takes (the daemon's round.neighbours bound). */
const MAX_NEIGHBOURS = 10_000;

/** `?neighbours=`: an integer in [1, 10000] or "all"; default DEFAULT_NEIGHBOURS. */
export function neighboursParam(text: string | null): number | 'all' {
  if (text === null) return DEFAULT_NEIGHBOURS;
  if (text === 'all') return 'all';
  const d = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!(Number.isInteger(d) && d >= 1 && d <= MAX_NEIGHBOURS)) {
    throw new RangeError(`?neighbours=${text} must be "all" or an integer in [1, ${MAX_NEIGHBOURS}]`);
  }
  return d;
}

/** `?gossipSteps=`: an integer in [1, MAX_GOSSIP_STEPS]; undefined when not given. */
export function gossipStepsParam(text: string | null): number | undefined {
  if (text === null) return undefined;
  const k = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!(Number.isInteger(k) && k >= 1 && k <= MAX_GOSSIP_STEPS)) {
    throw new RangeError(`?gossipSteps=${text} must be an integer in [1, ${MAX_GOSSIP_STEPS}]`);
  }
  return k;
}

const BACKENDS: readonly BackendChoice[] = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'];
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function readUrlParams(location: Location): PageParams {
  const q = new URLSearchParams(location.search);
  const shardText = q.get('shard');
  const shard = shardText === null ? Math.floor(Math.random() * SHARD_COUNT) : Number(shardText);
  if (!(Number.isInteger(shard) && shard >= 0 && shard < SHARD_COUNT)) {
    throw new RangeError(`?shard=${shardText} must be an integer in [0, ${SHARD_COUNT})`);
  }
  const backend = (q.get('backend') ?? 'auto') as BackendChoice;
  if (!BACKENDS.includes(backend)) throw new RangeError(`?backend=${backend} must be one of ${BACKENDS.join(', ')}`);
  return {
    bootstrap: q.get('bootstrap') ?? undefined,
    shard,
    backend,
    autostart: autostartParam(q.get('autostart')),
    taskId: q.get('task') ?? undefined,
    loopbackPage: LOOPBACK_HOSTS.has(location.hostname),
    neighbours: neighboursParam(q.get('neighbours')),
    gossipSteps: gossipStepsParam(q.get('gossipSteps')),
  };
}

function autostartParam(text: string | null): boolean | undefined {
  if (text === null) return undefined;
  if (text === '1' || text === '0') return text === '1';
  throw new RangeError(`?autostart=${text} must be 1 or 0`);
}

export interface DaemonStatus {
  readonly multiaddrs: readonly string[];
  readonly taskId: string | undefined;
}

/** Keys of `/status` that may hold the addresses a browser should dial, most specific first. */
const ADDRESS_KEYS = ['browserMultiaddrs', 'browser', 'multiaddrs', 'addresses'];

function stringsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(stringsIn);
  return [];
}

/** The serving daemon's `/status`, or undefined when the page is not served by a daemon. */
export async function fetchDaemonStatus(baseUrl: string): Promise<DaemonStatus | undefined> {
  let body: unknown;
  try {
    const response = await fetch(new URL('status', baseUrl), { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
    if (!response.ok || !(response.headers.get('content-type') ?? '').includes('json')) return undefined;
    body = await response.json();
  } catch {
    return undefined; // not served by a daemon (e.g. the Vite dev server)
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  const candidates = ADDRESS_KEYS.flatMap((k) => stringsIn(record[k]));
  const multiaddrs = candidates.filter((a) => {
    try {
      parseDaemonAddr(a);
      return true;
    } catch {
      return false;
    }
  });
  const task = record.taskId ?? (record.task as Record<string, unknown> | undefined)?.taskId;
  return { multiaddrs, taskId: typeof task === 'string' ? task : undefined };
}

/** The address to pre-fill: WebSockets before WebRTC-Direct, /wss before /ws. */
export function preferredDaemonAddr(addrs: readonly string[]): string | undefined {
  const rank = (a: string): number => (a.includes('/wss') ? 0 : a.includes('/ws') ? 1 : 2);
  return [...addrs].sort((a, b) => rank(a) - rank(b))[0];
}

/** Outcome of asking the serving daemon for its task. */
export type DaemonTask =
  | { readonly kind: 'task'; readonly task: TaskSpec }
  | { readonly kind: 'none' }
  | { readonly kind: 'invalid'; readonly error: string };

/**
 * The serving daemon's TaskSpec (`GET /task`): what the page must run to exchange updates
 * with it. 'none' when the page is not served by a daemon (or by one without /task).
 */
export async function fetchDaemonTask(baseUrl: string): Promise<DaemonTask> {
  let body: unknown;
  try {
    const response = await fetch(new URL('task', baseUrl), { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
    if (!response.ok || !(response.headers.get('content-type') ?? '').includes('json')) return { kind: 'none' };
    body = await response.json();
  } catch {
    return { kind: 'none' };
  }
  const parsed = safeParseTaskSpec(body);
  return parsed.ok
    ? { kind: 'task', task: parsed.task }
    : { kind: 'invalid', error: `the daemon's task is invalid: ${new TaskSpecError(parsed.issues).message}` };
}
