/**
 * In-process gossip for algorithm-level simulations: a `Bus` that many peers `join`, each
 * getting a `Gossip` that behaves like the libp2p one (same validator semantics, same
 * typed errors) with no sockets, no crypto and no timers.
 *
 * @example
 * ```ts
 * const bus = new Bus({ topology: { kind: 'random-regular', degree: 8, seed: 1 } })
 * const peers = Array.from({ length: 1000 }, (_, i) => bus.join(`p${i}`))
 * peers[1].subscribe('t', (m) => console.log(m.from, m.data.length))
 * await peers[0].publish('t', bytes)
 * await bus.flush()                       // every queued delivery done
 * console.log(bus.traffic('p0').bytesSent)
 * ```
 *
 * Propagation: a message floods along overlay edges hop by hop. Each node validates a
 * message once (duplicates are counted and dropped), delivers it to its handlers if
 * accepted, then forwards it to its subscribed neighbours except the one it came from.
 * A rejected message is not forwarded and lowers the sender's score. Deliveries run from
 * one FIFO queue in breadth-first order, so a run is deterministic; `flush()` waits for
 * the queue to drain, async validators included.
 *
 * Data is shared, not copied, between peers: handlers must treat `m.data`, and responders
 * and fetchers the request and response bytes, as read-only. (Receivers of one message then
 * hold the same bytes object, which lets them share what they decode: src/wire/shared-copies.ts.)
 */
import { TypedEventEmitter } from '@libp2p/interface';
import {
  FETCH_TIMEOUT,
  MAX_PAYLOAD_BYTES,
  MAX_REQUEST_BYTES,
  MAX_RESPONSE_BYTES,
  RESPOND_TIMEOUT,
} from './constants.ts';
import { FetchError, PublishError } from './errors.ts';
import type {
  FetchOptions,
  Gossip,
  GossipEvents,
  GossipMessage,
  HandleOptions,
  MessageHandler,
  NetLog,
  PublishResult,
  Responder,
  Validator,
  Verdict,
} from './gossip.ts';
import { deliver, runValidators, SubscriptionTable } from './gossip.ts';
import type { Topology } from './graph.ts';
import { OverlayGraph } from './graph.ts';
import { Reputation } from './reputation.ts';
import { raceAbort } from './util.ts';

export interface BusInit {
  /** Overlay shape (default `{ kind: 'full' }`). */
  topology?: Topology;
  /** Largest payload `publish` accepts (default `MAX_PAYLOAD_BYTES`, 64 MiB, as libp2p's). */
  maxPayloadBytes?: number;
  /** Message ids each node remembers for de-duplication (default 65 536). */
  seenCacheSize?: number;
  /** Score weight of one reputation unit, as gossipsub's appSpecificWeight (default 10). */
  scoreWeight?: number;
  /** Logger (default: errors to console.error, nothing else). */
  log?: NetLog;
}

/** Bytes and messages moved by one peer, counted at this layer (payload bytes only). */
export interface Traffic {
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  /** Copies received that this node had already seen. */
  duplicates: number;
  /** Messages this node rejected or ignored. */
  dropped: number;
  /** Request/response bytes, both directions. */
  fetchBytesSent: number;
  fetchBytesReceived: number;
}

const DEFAULT_SEEN_CACHE = 65_536;
const DEFAULT_SCORE_WEIGHT = 10;
const KEEP_ALIVE_INTERVAL = 1_000;

interface Envelope {
  id: number;
  topic: string;
  author: string;
  data: Uint8Array;
}

interface Task {
  to: string;
  via: string;
  env: Envelope;
}

const defaultLog: NetLog = Object.assign(() => {}, {
  error: (formatter: string, ...args: unknown[]) => {
    console.error(`meshfl:bus ${formatter}`, ...args);
  },
});

function emptyTraffic(): Traffic {
  return {
    messagesSent: 0,
    bytesSent: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    duplicates: 0,
    dropped: 0,
    fetchBytesSent: 0,
    fetchBytesReceived: 0,
  };
}

export class Bus {
  readonly #graph: OverlayGraph;
  readonly #members = new Map<string, BusGossip>();
  readonly #queue: Task[] = [];
  #head = 0;
  #pump: Promise<void> | undefined;
  #nextId = 0;
  readonly maxPayloadBytes: number;
  readonly seenCacheSize: number;
  readonly scoreWeight: number;
  readonly log: NetLog;

  constructor(init: BusInit = {}) {
    this.#graph = new OverlayGraph(init.topology ?? { kind: 'full' });
    this.maxPayloadBytes = init.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
    this.seenCacheSize = init.seenCacheSize ?? DEFAULT_SEEN_CACHE;
    this.scoreWeight = init.scoreWeight ?? DEFAULT_SCORE_WEIGHT;
    this.log = init.log ?? defaultLog;
  }

  /** Add a peer and wire it into the overlay. Its connect events fire on the next microtask. */
  join(id: string): Gossip & { readonly traffic: Traffic } {
    if (this.#members.has(id)) throw new Error(`peer ${id} already joined`);
    const member = new BusGossip(this, id);
    this.#members.set(id, member);
    this.#applyChange(this.#graph.add(id));
    return member;
  }

  /** Current overlay neighbours of a peer. */
  neighbours(id: string): string[] {
    return this.#graph.neighbours(id);
  }

  /** Link two joined peers (e.g. to heal a partition). */
  link(a: string, b: string): void {
    if (this.#graph.link(a, b)) this.#applyChange({ added: [[a, b]], removed: [] });
  }

  /** Unlink two peers (e.g. to model a partition). */
  unlink(a: string, b: string): void {
    if (this.#graph.unlink(a, b)) this.#applyChange({ added: [], removed: [[a, b]] });
  }

  /** Counters of one peer (live object), or undefined if it never joined. */
  traffic(id: string): Traffic | undefined {
    return this.#members.get(id)?.traffic;
  }

  /** Peers currently joined. */
  peerIds(): string[] {
    return [...this.#members.keys()];
  }

  /** Resolves once every queued delivery (and its validation) has run. */
  async flush(): Promise<void> {
    while (this.#pump != null) await this.#pump;
  }

  /** Stop every member. */
  async stop(): Promise<void> {
    for (const m of [...this.#members.values()]) await m.stop();
    await this.flush();
  }

  /** @internal */
  member(id: string): BusGossip | undefined {
    return this.#members.get(id);
  }

  /** @internal */
  leave(id: string): void {
    if (!this.#members.has(id)) return;
    this.#applyChange(this.#graph.remove(id));
    this.#members.delete(id);
  }

  /** @internal A new message id. */
  newId(): number {
    return this.#nextId++;
  }

  /** @internal Send `env` from `from` to each subscribed neighbour except `except`; returns copies sent. */
  forward(from: BusGossip, env: Envelope, except?: string): number {
    let sent = 0;
    for (const to of this.#graph.neighbours(from.id)) {
      if (to === except || to === env.author) continue;
      const target = this.#members.get(to);
      if (target == null || !target.subscribedTo(env.topic)) continue;
      sent++;
      from.traffic.messagesSent++;
      from.traffic.bytesSent += env.data.byteLength;
      target.traffic.messagesReceived++;
      target.traffic.bytesReceived += env.data.byteLength;
      if (target.hasSeen(env.id)) {
        target.traffic.duplicates++;
        continue;
      }
      this.#queue.push({ to, via: from.id, env });
    }
    if (sent > 0) this.#startPump();
    return sent;
  }

  #startPump(): void {
    if (this.#pump != null) return;
    this.#pump = this.#drain().finally(() => {
      this.#pump = undefined;
    });
  }

  async #drain(): Promise<void> {
    // let the publisher's synchronous code finish first, as a network would
    await Promise.resolve();
    while (this.#head < this.#queue.length) {
      const task = this.#queue[this.#head++];
      if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      const target = this.#members.get(task.to);
      if (target == null) continue;
      try {
        const pending = target.receive(task.via, task.env);
        if (pending != null) await pending;
      } catch (err) {
        this.log.error('delivery to %s failed: %s', task.to, err);
      }
    }
    this.#queue.length = 0;
    this.#head = 0;
  }

  #applyChange(change: { added: Array<[string, string]>; removed: Array<[string, string]> }): void {
    const events: Array<[string, 'peer:connect' | 'peer:disconnect', string]> = [];
    for (const [a, b] of change.removed) events.push([a, 'peer:disconnect', b], [b, 'peer:disconnect', a]);
    for (const [a, b] of change.added) events.push([a, 'peer:connect', b], [b, 'peer:connect', a]);
    if (events.length === 0) return;
    queueMicrotask(() => {
      for (const [at, type, peer] of events) this.#members.get(at)?.emit(type, peer);
    });
  }
}

interface Handled {
  responder: Responder;
  maxRequestBytes: number;
  timeout: number;
}

class BusGossip extends TypedEventEmitter<GossipEvents> implements Gossip {
  readonly id: string;
  readonly traffic: Traffic = emptyTraffic();
  readonly #bus: Bus;
  readonly #subs = new SubscriptionTable();
  readonly #protocols = new Map<string, Handled>();
  readonly #seen = new Set<number>();
  readonly #reputation = new Reputation();
  readonly #stopping = new AbortController();
  #stopped = false;

  constructor(bus: Bus, id: string) {
    super();
    this.#bus = bus;
    this.id = id;
  }

  subscribe(topic: string, handler: MessageHandler, validate?: Validator): () => void {
    const sub = { handler, validate };
    this.#subs.add(topic, sub);
    return () => {
      this.#subs.remove(topic, sub);
    };
  }

  async publish(topic: string, data: Uint8Array): Promise<PublishResult> {
    if (this.#stopped) throw new PublishError('stopped', topic, 'node is stopped');
    if (data.byteLength > this.#bus.maxPayloadBytes) {
      throw new PublishError('too-large', topic, `${data.byteLength} bytes > ${this.#bus.maxPayloadBytes}`);
    }
    const env: Envelope = { id: this.#bus.newId(), topic, author: this.id, data: data.slice() };
    this.#markSeen(env.id);
    return { recipients: this.#bus.forward(this, env) };
  }

  async handle(protocol: string, responder: Responder, options: HandleOptions = {}): Promise<void> {
    this.#protocols.set(protocol, {
      responder,
      maxRequestBytes: options.maxRequestBytes ?? MAX_REQUEST_BYTES,
      timeout: options.timeout ?? RESPOND_TIMEOUT,
    });
  }

  async fetch(peer: string, protocol: string, request: Uint8Array, options: FetchOptions = {}): Promise<Uint8Array> {
    if (this.#stopped) throw new FetchError('stopped', peer, protocol, 'node is stopped');
    const signal = AbortSignal.any([options.signal ?? AbortSignal.timeout(FETCH_TIMEOUT), this.#stopping.signal]);
    const maxResponse = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    const target = this.#bus.member(peer);
    const handled = target?.handled(protocol);
    if (target == null || handled == null) {
      throw new FetchError(
        'unreachable',
        peer,
        protocol,
        target == null ? 'peer not on the bus' : 'protocol not handled',
      );
    }
    if (request.byteLength > handled.maxRequestBytes) {
      throw new FetchError('too-large', peer, protocol, `request ${request.byteLength} > ${handled.maxRequestBytes}`);
    }
    this.traffic.fetchBytesSent += request.byteLength;
    target.traffic.fetchBytesReceived += request.byteLength;
    const respondSignal = AbortSignal.timeout(handled.timeout);
    let response: Uint8Array;
    // timeout signals do not keep Node alive; a pending exchange should, as a socket would
    const keepAlive = setInterval(() => {}, KEEP_ALIVE_INTERVAL);
    try {
      response = await raceAbort(handled.responder(this.id, request), AbortSignal.any([signal, respondSignal]));
    } catch (err) {
      if (signal.aborted || respondSignal.aborted) {
        const code = this.#stopping.signal.aborted
          ? 'stopped'
          : signal.reason?.name === 'TimeoutError' || respondSignal.aborted
            ? 'timeout'
            : 'aborted';
        throw new FetchError(code, peer, protocol, 'no response in time', { cause: err });
      }
      throw new FetchError('remote-error', peer, protocol, err instanceof Error ? err.message : String(err), {
        cause: err,
      });
    } finally {
      clearInterval(keepAlive);
    }
    target.traffic.fetchBytesSent += response.byteLength;
    if (response.byteLength > maxResponse) {
      throw new FetchError('too-large', peer, protocol, `response ${response.byteLength} > ${maxResponse}`);
    }
    this.traffic.fetchBytesReceived += response.byteLength;
    return response;
  }

  peers(): string[] {
    return this.#stopped ? [] : this.#bus.neighbours(this.id);
  }

  penalize(peer: string, reason: string): void {
    this.#bus.log('%s penalises %s: %s', this.id, peer, reason);
    this.#reputation.penalize(peer);
  }

  score(peer: string): number {
    return this.#reputation.score(peer) * this.#bus.scoreWeight;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopping.abort(new Error('stopped'));
    this.#subs.clear();
    this.#protocols.clear();
    this.#bus.leave(this.id);
  }

  /** @internal */
  subscribedTo(topic: string): boolean {
    return !this.#stopped && this.#subs.has(topic);
  }

  /** @internal */
  hasSeen(id: number): boolean {
    return this.#seen.has(id);
  }

  /** @internal */
  handled(protocol: string): Handled | undefined {
    return this.#stopped ? undefined : this.#protocols.get(protocol);
  }

  /** @internal */
  emit(type: 'peer:connect' | 'peer:disconnect', peer: string): void {
    if (!this.#stopped) this.safeDispatchEvent(type, { detail: peer });
  }

  /**
   * @internal Handle one copy of a message from neighbour `via`. Returns a promise only
   * when a validator is asynchronous, so synchronous simulations stay cheap.
   */
  receive(via: string, env: Envelope): Promise<void> | undefined {
    if (!this.subscribedTo(env.topic)) return;
    if (this.#seen.has(env.id)) {
      this.traffic.duplicates++;
      return;
    }
    this.#markSeen(env.id);
    const m: GossipMessage = { from: env.author, topic: env.topic, data: env.data };
    const validators = this.#subs.validators(env.topic);
    if (validators.length === 0) return this.#conclude(via, env, m, 'accept');
    return runValidators(validators, m, this.#bus.log).then((v) => this.#conclude(via, env, m, v));
  }

  #conclude(via: string, env: Envelope, m: GossipMessage, verdict: Verdict): undefined {
    if (this.#stopped) return;
    if (verdict !== 'accept') {
      this.traffic.dropped++;
      if (verdict === 'reject') this.#reputation.penalize(via);
      return;
    }
    deliver(this.#subs.handlers(env.topic), m, this.#bus.log);
    this.#bus.forward(this, env, via);
  }

  #markSeen(id: number): void {
    this.#seen.add(id);
    if (this.#seen.size > this.#bus.seenCacheSize) {
      // Sets iterate in insertion order: the first entry is the oldest
      const oldest = this.#seen.values().next().value;
      if (oldest != null) this.#seen.delete(oldest);
    }
  }
}
