/**
 * The `Gossip` interface the Peer round loop talks to. Two implementations behave the
 * same from the caller's side: `Libp2pGossip` (gossipsub + stream protocols, see
 * `libp2p-gossip.ts`) and the in-process `Bus` (`inproc-bus.ts`) for simulations of
 * hundreds of peers.
 *
 * @example
 * ```ts
 * const off = gossip.subscribe('meshfl/updates', (m) => apply(m.from, m.data), (m) =>
 *   looksValid(m.data) ? 'accept' : 'reject')
 * const { recipients } = await gossip.publish('meshfl/updates', bytes)
 * await gossip.handle('/meshfl/1/snapshot', async (from, req) => snapshotBytes)
 * const snap = await gossip.fetch(peerId, '/meshfl/1/snapshot', new Uint8Array())
 * off()
 * await gossip.stop()
 * ```
 *
 * Semantics shared by every implementation:
 * - A message reaches a handler only after every validator of that topic on this node
 *   accepted it. Verdicts combine as reject > ignore > accept; a validator that throws
 *   counts as 'ignore' (no penalty). A rejected or ignored message is not forwarded.
 *   'reject' lowers the forwarding peer's score; 'ignore' does not.
 * - Handlers get the full payload bytes, however large (large payloads are fetched
 *   transparently before validation), and `from` is the original author.
 * - A node does not receive its own publications.
 * - Publishing with no connected subscribers is not an error: it returns 0 recipients.
 */
import type { TypedEventTarget } from '@libp2p/interface';

export interface GossipMessage {
  /** Peer id string of the original author (signed in the libp2p implementation). */
  from: string;
  topic: string;
  /** The published bytes, exactly. */
  data: Uint8Array;
}

export type Verdict = 'accept' | 'reject' | 'ignore';

export type Validator = (m: GossipMessage) => Verdict | Promise<Verdict>;

export type MessageHandler = (m: GossipMessage) => void;

/** Answers one request of a request/response protocol; a throw reaches the caller as `FetchError('remote-error')`. */
export type Responder = (from: string, request: Uint8Array) => Promise<Uint8Array>;

export interface PublishResult {
  /** Peers the message was sent to directly (the first hop). */
  recipients: number;
}

export interface HandleOptions {
  /** Largest request accepted (default `MAX_REQUEST_BYTES`, 1 MiB). */
  maxRequestBytes?: number;
  /** Time the responder may take (default `RESPOND_TIMEOUT`, 30 s). */
  timeout?: number;
  /**
   * Time a request may take to arrive whole (default: the transport's, 5 s on libp2p,
   * `REQUEST_READ_TIMEOUT`). Set it for protocols whose requests carry a model (a push).
   */
  readTimeout?: number;
  /** Stage that refused requests are reported under (`rejected` events; default 'snapshot'). */
  stage?: RejectStage;
}

export interface SubscribeOptions {
  /**
   * Largest payload this topic can legitimately carry (e.g. the task architecture's
   * largest update): an announcement of more is refused as a lie, and fetch and cache
   * budgets are sized from it.
   */
  maxPayloadBytes?: number;
}

export interface FetchOptions {
  /** Aborts the exchange; default `AbortSignal.timeout(FETCH_TIMEOUT)` (10 s). */
  signal?: AbortSignal;
  /** Largest response accepted (default `MAX_RESPONSE_BYTES`, 64 MiB). */
  maxResponseBytes?: number;
}

/**
 * Where in the stack incoming traffic was refused (docs/DAEMON.md "Metrics"):
 * - `message`: gossipsub itself, before any validator: an RPC that does not decode or is
 *   too long, a message with a bad signature or fields, any message from a graylisted peer;
 * - `frame`: this layer's 1-byte frame header (unsigned message, unknown kind, a bad or
 *   implausible announcement);
 * - `fetch`: fetching an announced payload (no source served it, a source served other
 *   bytes, fetch limits) or serving one (bad requests);
 * - `validation`: the update itself (src/wire/validate.ts reasons), reported by the Peer;
 * - `snapshot`: snapshot requests served and snapshot responses received;
 * - `task`: task requests served (`/meshfl/1/task`) and task answers received;
 * - `sample`: peer sampling messages (`/meshfl/1/sample`: exchanges, follows).
 * Duplicates are dropped by gossipsub before any of this and are not rejections.
 */
export type RejectStage = 'message' | 'frame' | 'fetch' | 'validation' | 'snapshot' | 'task' | 'sample';

export interface Rejection {
  readonly stage: RejectStage;
  /** A short fixed token (no free text): safe as a metric label. */
  readonly reason: string;
  /** The peer the traffic came from (the propagation source or the requester), when known. */
  readonly peer: string | undefined;
  /** Messages refused at once (e.g. every message of a graylisted peer's RPC); usually 1. */
  readonly count: number;
  readonly detail?: string;
}

export interface GossipEvents {
  /** A peer connected (detail: its id string). */
  'peer:connect': CustomEvent<string>;
  /** A peer disconnected (detail: its id string). */
  'peer:disconnect': CustomEvent<string>;
  /** Incoming traffic refused below the Peer (libp2p implementation only). */
  rejected: CustomEvent<Rejection>;
}

export interface Gossip extends TypedEventTarget<GossipEvents> {
  /** This node's own peer id string. */
  readonly id: string;
  /**
   * Receive messages on `topic`. `validate` runs before any handler of the topic sees a
   * message. Returns a function that removes this subscription (the node leaves the topic
   * when its last subscription is removed).
   */
  subscribe(topic: string, handler: MessageHandler, validate?: Validator, options?: SubscribeOptions): () => void;
  /** Send `data` to every subscriber of `topic`. Throws `PublishError` when too large or stopped. */
  publish(topic: string, data: Uint8Array): Promise<PublishResult>;
  /**
   * Serve a request/response protocol; resolves once registered. A second `handle` of the
   * same protocol replaces the responder. `stop()` unregisters all.
   */
  handle(protocol: string, responder: Responder, options?: HandleOptions): Promise<void>;
  /** One request/response exchange with `peer`. Throws `FetchError` (typed `code`). */
  fetch(peer: string, protocol: string, request: Uint8Array, options?: FetchOptions): Promise<Uint8Array>;
  /** Peers currently connected. */
  peers(): string[];
  /** Lower `peer`'s reputation (feeds gossipsub's app-specific score); `reason` is logged. */
  penalize(peer: string, reason: string): void;
  /** This node's current view of `peer`'s score; negative means penalised. */
  score(peer: string): number;
  /**
   * Where this node can be reached (multiaddr text), for peer sampling to pass on; absent
   * on transports where any member is reachable by id (the in-process Bus).
   */
  addresses?(): Promise<string[]>;
  /**
   * Where this node would dial `peer` (libp2p: the peer store's addresses, which identify
   * fills for a connected peer), so that peer sampling can pass them on; [] when unknown.
   */
  peerAddresses?(peer: string): Promise<string[]>;
  /** Addresses of `peer` learned from a sampling exchange, so that `fetch` can dial it. */
  learnAddresses?(peer: string, addresses: readonly string[]): Promise<void>;
  /** Leave all topics, stop serving protocols, abort in-flight work, release the node. */
  stop(): Promise<void>;
}

/** Combine the verdicts of several validators: any reject wins, then any ignore. */
export function combineVerdicts(verdicts: Iterable<Verdict>): Verdict {
  let result: Verdict = 'accept';
  for (const v of verdicts) {
    if (v === 'reject') return 'reject';
    if (v === 'ignore') result = 'ignore';
  }
  return result;
}

/** Structural logger both implementations use (`@libp2p/logger` loggers fit it). */
export interface NetLog {
  (formatter: string, ...args: unknown[]): void;
  error(formatter: string, ...args: unknown[]): void;
}

/**
 * Run every validator of a topic on one message and combine their verdicts. A throwing
 * validator or an unknown verdict counts as 'ignore', and is logged.
 */
export async function runValidators(validators: Iterable<Validator>, m: GossipMessage, log: NetLog): Promise<Verdict> {
  const verdicts: Verdict[] = [];
  for (const validate of validators) {
    let v: Verdict;
    try {
      v = await validate(m);
    } catch (err) {
      log.error('validator for %s threw, treating as ignore: %s', m.topic, err);
      v = 'ignore';
    }
    if (v !== 'accept' && v !== 'reject' && v !== 'ignore') {
      log.error('validator for %s returned %s, treating as ignore', m.topic, v);
      v = 'ignore';
    }
    verdicts.push(v);
    if (v === 'reject') break;
  }
  return combineVerdicts(verdicts);
}

/** Call every handler; one handler's throw is logged and does not stop the others. */
export function deliver(handlers: Iterable<MessageHandler>, m: GossipMessage, log: NetLog): void {
  for (const handler of handlers) {
    try {
      handler(m);
    } catch (err) {
      log.error('handler for %s threw: %s', m.topic, err);
    }
  }
}

/**
 * The subscriptions of one node, shared by both implementations: topic -> set of
 * (handler, validator) entries.
 */
export interface Subscription {
  handler: MessageHandler;
  validate?: Validator;
}

export class SubscriptionTable {
  readonly #topics = new Map<string, Set<Subscription>>();

  /** Adds an entry; returns true when this is the topic's first subscription. */
  add(topic: string, sub: Subscription): boolean {
    let subs = this.#topics.get(topic);
    const first = subs == null;
    if (subs == null) {
      subs = new Set();
      this.#topics.set(topic, subs);
    }
    subs.add(sub);
    return first;
  }

  /** Removes an entry; returns true when the topic has no subscription left. */
  remove(topic: string, sub: Subscription): boolean {
    const subs = this.#topics.get(topic);
    if (subs == null || !subs.delete(sub)) return false;
    if (subs.size === 0) {
      this.#topics.delete(topic);
      return true;
    }
    return false;
  }

  has(topic: string): boolean {
    return this.#topics.has(topic);
  }

  list(): string[] {
    return [...this.#topics.keys()];
  }

  validators(topic: string): Validator[] {
    const out: Validator[] = [];
    for (const s of this.#topics.get(topic) ?? []) if (s.validate != null) out.push(s.validate);
    return out;
  }

  handlers(topic: string): MessageHandler[] {
    return [...(this.#topics.get(topic) ?? [])].map((s) => s.handler);
  }

  clear(): void {
    this.#topics.clear();
  }
}
