/**
 * `Gossip` over libp2p: gossipsub for topics, length-prefixed stream protocols for
 * request/response, and transparent announce + fetch for payloads too large to gossip.
 *
 * @example
 * ```ts
 * const node = await createMemoryLibp2p({ gossip: { relaxColocation: true } })
 * const gossip = await createLibp2pGossip(node)
 * gossip.subscribe('meshfl/updates', (m) => console.log(m.from, m.data.byteLength))
 * await gossip.publish('meshfl/updates', bytes)   // any size up to maxPayloadBytes
 * await gossip.stop()                             // also stops the node (stopNode)
 * ```
 *
 * Large payloads: a payload over `inlineLimit` is hashed, kept in a bounded cache, and
 * gossiped as a 37-byte announcement (see `frame.ts`). A receiver's topic validator
 * fetches the bytes over `/meshfl/1/payload` before running the user's validators, first
 * from the propagation source (a direct neighbour that, having forwarded the message, has
 * already fetched and verified it), then from the author, then from other subscribed
 * neighbours. Size and sha256 are checked; a source that serves wrong bytes is penalised.
 * Accepted payloads enter the cache, so every hop serves the next one, and the payload
 * travels the gossip mesh hop by hop like an inline message does.
 */

import type { GossipSub, Message } from '@libp2p/gossipsub';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import type { Identify } from '@libp2p/identify';
import type { ComponentLogger, Libp2p, Logger, PeerId, Stream } from '@libp2p/interface';
import { TypedEventEmitter } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import {
  FETCH_BYTES_FACTOR,
  FETCH_MAX_QUEUED,
  FETCH_MAX_QUEUED_PER_PEER,
  FETCH_MAX_RUNNING,
  FETCH_MAX_RUNNING_PER_PEER,
  FETCH_TIMEOUT,
  FRAME_OVERHEAD,
  INLINE_LIMIT,
  MAX_INBOUND_STREAMS,
  MAX_OUTBOUND_STREAMS,
  MAX_PAYLOAD_BYTES,
  MAX_REQUEST_BYTES,
  MAX_RESPONSE_BYTES,
  PAYLOAD_CACHE_BYTES,
  PAYLOAD_CACHE_ENTRIES,
  PAYLOAD_CACHE_FACTOR,
  PAYLOAD_FETCH_ATTEMPTS,
  PAYLOAD_FETCH_TIMEOUT,
  PAYLOAD_PROTOCOL,
  REQUEST_READ_TIMEOUT,
  RESPOND_TIMEOUT,
} from './constants.ts';
import type { FetchErrorCode } from './errors.ts';
import { FetchError, FrameError, PublishError } from './errors.ts';
import { readRequest, sendResponse } from './exchange.ts';
import { FetchLimiter, type FetchLimiterStats } from './fetch-limiter.ts';
import type { Frame } from './frame.ts';
import { decodeFrame, encodeAnnounce, encodeInline, HASH_BYTES } from './frame.ts';
import type {
  FetchOptions,
  Gossip,
  GossipEvents,
  GossipMessage,
  HandleOptions,
  MessageHandler,
  PublishResult,
  RejectStage,
  Responder,
  SubscribeOptions,
  Validator,
  Verdict,
} from './gossip.ts';
import { deliver, runValidators, SubscriptionTable } from './gossip.ts';
import type { GossipServices, GossipTuning } from './gossipsub-config.ts';
import { internals, topicScoreParams } from './gossipsub-config.ts';
import { installMessageRejectHooks } from './gossipsub-hooks.ts';
import { OutboundStreamKeeper } from './gossipsub-streams.ts';
import { PayloadCache } from './payload-cache.ts';
import { bytesEqual, raceAbort, sha256, toHex } from './util.ts';

export interface Libp2pGossipInit {
  /** Payloads up to this size are gossiped inline (default `INLINE_LIMIT`, 64 KiB). */
  inlineLimit?: number;
  /** Largest payload published or fetched (default `MAX_PAYLOAD_BYTES`, 64 MiB). */
  maxPayloadBytes?: number;
  /** Byte budget of the payload cache (default `PAYLOAD_CACHE_BYTES`, 256 MiB). */
  payloadCacheBytes?: number;
  /** Entry budget of the payload cache (default `PAYLOAD_CACHE_ENTRIES`, 64). */
  payloadCacheEntries?: number;
  /** Time to fetch one payload from one source (default `PAYLOAD_FETCH_TIMEOUT`, 30 s). */
  payloadFetchTimeout?: number;
  /** Sources tried per announced payload (default `PAYLOAD_FETCH_ATTEMPTS`, 4). */
  payloadFetchAttempts?: number;
  /** Score parameters for subscribed topics (default `FL_TOPIC_SCORE_PARAMS`). */
  tuning?: GossipTuning;
  /** `stop()` also stops the libp2p node (default true). */
  stopNode?: boolean;
  /** Time a request may take to arrive whole before the stream is closed (default `REQUEST_READ_TIMEOUT`, 5 s). */
  requestReadTimeout?: number;
  /** Announced-payload fetches running at once (default `FETCH_MAX_RUNNING`, 8). */
  maxFetches?: number;
  /** ...of them for one propagation source (default `FETCH_MAX_RUNNING_PER_PEER`, 2). */
  maxFetchesPerPeer?: number;
  /** Fetches running or waiting for one propagation source (default `FETCH_MAX_QUEUED_PER_PEER`, 32). */
  maxFetchesQueuedPerPeer?: number;
  /** Fetches waiting in total (default `FETCH_MAX_QUEUED`, 256). */
  maxFetchesQueued?: number;
  /**
   * Bytes of unvalidated payloads held at once (announced sizes of running fetches).
   * Default `FETCH_BYTES_FACTOR` (4) x the largest topic payload limit (`subscribe`'s
   * `maxPayloadBytes`), or x `maxPayloadBytes` while no topic has one.
   */
  maxFetchBytesInFlight?: number;
}

export type GossipNode = Libp2p<GossipServices>;

/** Counters of the announce + fetch path (gossipsub's own traffic is not included). */
export interface PayloadStats {
  /** Payload bytes this node served to others over the payload protocol. */
  bytesServed: number;
  /** Payload bytes this node fetched from others. */
  bytesFetched: number;
  /** Announced payloads fetched successfully. */
  fetched: number;
  /** Announced payloads no source could serve. */
  unavailable: number;
}

/** Response frames: lp(status byte) then lp(body). */
const STATUS_OK = 0;
const STATUS_ERROR = 1;
const STATUS_TOO_LARGE = 2;

/** Longest error text a responder sends back. */
const MAX_ERROR_TEXT = 1024;

interface Handled {
  responder: Responder;
  maxRequestBytes: number;
  timeout: number;
  readTimeout: number;
  stage: RejectStage;
}

/** Create the Gossip layer on a started node that has `pubsub` and `reputation` services. */
export async function createLibp2pGossip(node: GossipNode, init: Libp2pGossipInit = {}): Promise<Libp2pGossip> {
  const gossip = new Libp2pGossip(node, init);
  await gossip.start();
  return gossip;
}

export class Libp2pGossip extends TypedEventEmitter<GossipEvents> implements Gossip {
  readonly id: string;
  readonly node: GossipNode;
  readonly #pubsub: GossipSub;
  readonly #log: Logger;
  readonly #logger: ComponentLogger;
  readonly #inlineLimit: number;
  readonly #maxPayloadBytes: number;
  readonly #payloadFetchTimeout: number;
  readonly #payloadFetchAttempts: number;
  readonly #tuning: GossipTuning;
  readonly #stopNode: boolean;
  readonly #requestReadTimeout: number;
  readonly #fetchLimiter: FetchLimiter;
  readonly #fixedFetchBytes: number | undefined;
  readonly #fixedCacheBytes: number | undefined;
  /** Largest payload a topic can legitimately carry (subscribe's maxPayloadBytes). */
  readonly #topicLimits = new Map<string, number>();
  readonly #cache: PayloadCache;
  readonly #subs = new SubscriptionTable();
  readonly #handled = new Map<string, Handled>();
  /** Messages accepted by our validator, waiting for gossipsub's 'message' event. */
  readonly #accepted = new WeakMap<Message, GossipMessage>();
  readonly #stopping = new AbortController();
  /** Reopens gossipsub streams that gossipsub gave up on (gossipsub-streams.ts). */
  readonly #streamKeeper: OutboundStreamKeeper;
  #started = false;
  #stopped = false;
  /** Live counters of the announce + fetch path. */
  readonly payloadStats: PayloadStats = { bytesServed: 0, bytesFetched: 0, fetched: 0, unavailable: 0 };
  /** Whether gossipsub's own drops (bad RPCs, graylisted peers, bad signatures) are reported. */
  messageRejectsVisible = false;

  constructor(node: GossipNode, init: Libp2pGossipInit = {}) {
    super();
    this.node = node;
    this.id = node.peerId.toString();
    this.#pubsub = node.services.pubsub;
    this.#logger = node.logger;
    this.#log = node.logger.forComponent('meshfl:gossip');
    this.#inlineLimit = init.inlineLimit ?? INLINE_LIMIT;
    this.#maxPayloadBytes = init.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
    this.#payloadFetchTimeout = init.payloadFetchTimeout ?? PAYLOAD_FETCH_TIMEOUT;
    this.#payloadFetchAttempts = init.payloadFetchAttempts ?? PAYLOAD_FETCH_ATTEMPTS;
    this.#tuning = init.tuning ?? {};
    this.#stopNode = init.stopNode ?? true;
    this.#requestReadTimeout = init.requestReadTimeout ?? REQUEST_READ_TIMEOUT;
    this.#fixedFetchBytes = init.maxFetchBytesInFlight;
    this.#fixedCacheBytes = init.payloadCacheBytes;
    this.#fetchLimiter = new FetchLimiter({
      maxRunning: init.maxFetches ?? FETCH_MAX_RUNNING,
      maxRunningPerPeer: init.maxFetchesPerPeer ?? FETCH_MAX_RUNNING_PER_PEER,
      maxQueuedPerPeer: init.maxFetchesQueuedPerPeer ?? FETCH_MAX_QUEUED_PER_PEER,
      maxQueued: init.maxFetchesQueued ?? FETCH_MAX_QUEUED,
      maxBytes: init.maxFetchBytesInFlight ?? FETCH_BYTES_FACTOR * this.#maxPayloadBytes,
    });
    this.#cache = new PayloadCache({
      maxBytes: init.payloadCacheBytes ?? PAYLOAD_CACHE_BYTES,
      maxEntries: init.payloadCacheEntries ?? PAYLOAD_CACHE_ENTRIES,
    });
    const identifyService = (node.services as { identify?: Identify }).identify;
    this.#streamKeeper = new OutboundStreamKeeper(node, this.#pubsub, {
      ...(identifyService === undefined
        ? {}
        : { identify: (connection, signal) => identifyService.identify(connection, { signal }) }),
      onRepair: (peer) => this.#log('reopening the gossipsub stream to %s, which gossipsub gave up on', peer),
    });
  }

  /** Gossipsub streams reopened after gossipsub gave up on them. */
  streamRepairs(): number {
    return this.#streamKeeper.repairs;
  }

  isStarted(): boolean {
    return this.#started;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.node.addEventListener('peer:connect', this.#onConnect);
    this.node.addEventListener('peer:disconnect', this.#onDisconnect);
    this.#pubsub.addEventListener('message', this.#onMessage);
    this.messageRejectsVisible = installMessageRejectHooks(this.#pubsub, (reason, peer, count) =>
      this.#rejectTraffic('message', reason, peer, undefined, count),
    );
    if (!this.messageRejectsVisible) this.#log.error('gossipsub internals changed: its own drops are not counted');
    if (!this.#streamKeeper.start()) this.#log.error('gossipsub internals changed: lost streams are not reopened');
    await this.handle(PAYLOAD_PROTOCOL, this.#servePayload, { maxRequestBytes: HASH_BYTES, stage: 'fetch' });
    this.#started = true;
  }

  subscribe(topic: string, handler: MessageHandler, validate?: Validator, options: SubscribeOptions = {}): () => void {
    if (this.#stopped) throw new Error('gossip is stopped');
    const sub = { handler, validate };
    if (options.maxPayloadBytes !== undefined) {
      this.#topicLimits.set(topic, Math.max(this.#topicLimits.get(topic) ?? 0, options.maxPayloadBytes));
      this.#sizeBudgets();
    }
    if (this.#subs.add(topic, sub)) {
      const params = internals(this.#pubsub).score.params;
      if (params.topics[topic] == null) params.topics[topic] = topicScoreParams(this.#tuning);
      this.#pubsub.topicValidators.set(topic, (source, msg) => this.#validateMessage(source, msg));
      this.#pubsub.subscribe(topic);
    }
    return () => {
      if (this.#subs.remove(topic, sub) && !this.#stopped) {
        this.#pubsub.unsubscribe(topic);
        this.#pubsub.topicValidators.delete(topic);
      }
    };
  }

  async publish(topic: string, data: Uint8Array): Promise<PublishResult> {
    if (this.#stopped) throw new PublishError('stopped', topic, 'node is stopped');
    if (data.byteLength > this.#maxPayloadBytes) {
      throw new PublishError('too-large', topic, `${data.byteLength} bytes > ${this.#maxPayloadBytes}`);
    }
    let frame: Uint8Array;
    if (data.byteLength <= this.#inlineLimit) {
      frame = encodeInline(data);
    } else {
      const copy = data.slice();
      const hash = await sha256(copy);
      this.#cache.put(toHex(hash), copy);
      frame = encodeAnnounce(copy.byteLength, hash);
    }
    const result = await this.#pubsub.publish(topic, frame);
    return { recipients: result.recipients.length };
  }

  async handle(protocol: string, responder: Responder, options: HandleOptions = {}): Promise<void> {
    const entry: Handled = {
      responder,
      maxRequestBytes: options.maxRequestBytes ?? MAX_REQUEST_BYTES,
      timeout: options.timeout ?? RESPOND_TIMEOUT,
      readTimeout: options.readTimeout ?? this.#requestReadTimeout,
      stage: options.stage ?? 'snapshot',
    };
    const replacing = this.#handled.has(protocol);
    this.#handled.set(protocol, entry);
    if (replacing) return;
    await this.node.handle(protocol, (stream, connection) => this.#respond(protocol, stream, connection.remotePeer), {
      maxInboundStreams: MAX_INBOUND_STREAMS,
      maxOutboundStreams: MAX_OUTBOUND_STREAMS,
      force: true,
    });
  }

  async fetch(peer: string, protocol: string, request: Uint8Array, options: FetchOptions = {}): Promise<Uint8Array> {
    if (this.#stopped) throw new FetchError('stopped', peer, protocol, 'node is stopped');
    const caller = options.signal ?? AbortSignal.timeout(FETCH_TIMEOUT);
    const signal = AbortSignal.any([caller, this.#stopping.signal]);
    const maxResponse = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    const fail = (code: FetchErrorCode, detail: string, cause?: unknown): FetchError =>
      new FetchError(code, peer, protocol, detail, { cause });
    const classify = (err: unknown, fallback: FetchErrorCode): FetchError => {
      if (err instanceof FetchError) return err;
      if (this.#stopping.signal.aborted) return fail('stopped', 'node stopped', err);
      if (caller.aborted) {
        const timeout = caller.reason instanceof Error && caller.reason.name === 'TimeoutError';
        return fail(timeout ? 'timeout' : 'aborted', timeout ? 'timed out' : 'aborted by caller', err);
      }
      const name = err instanceof Error ? err.name : '';
      if (name === 'InvalidDataLengthError' || name === 'StreamBufferError') {
        return fail('too-large', `response over ${maxResponse} bytes`, err);
      }
      return fail(fallback, err instanceof Error ? err.message : String(err), err);
    };

    let target: PeerId;
    try {
      target = peerIdFromString(peer);
    } catch (err) {
      throw fail('unreachable', `bad peer id: ${String(err)}`, err);
    }
    let stream: Stream;
    try {
      stream = await this.node.dialProtocol(target, protocol, { signal });
    } catch (err) {
      throw classify(err, 'unreachable');
    }
    try {
      const lp = lpStream(stream, { maxDataLength: maxResponse, maxBufferSize: maxResponse + FRAME_OVERHEAD });
      await lp.write(request, { signal });
      const status = (await lp.read({ signal })).subarray();
      if (status.byteLength !== 1) throw fail('protocol', `status frame of ${status.byteLength} bytes`);
      const body = (await lp.read({ signal })).subarray();
      if (status[0] === STATUS_ERROR) throw fail('remote-error', new TextDecoder().decode(body));
      if (status[0] === STATUS_TOO_LARGE) throw fail('too-large', new TextDecoder().decode(body));
      if (status[0] !== STATUS_OK) throw fail('protocol', `unknown status ${status[0]}`);
      await stream.close({ signal }).catch((err: unknown) => {
        this.#log('closing %s stream to %s: %s', protocol, peer, err);
        stream.abort(err instanceof Error ? err : new Error(String(err)));
      });
      return body;
    } catch (err) {
      const error = classify(err, 'protocol');
      stream.abort(error);
      throw error;
    }
  }

  peers(): string[] {
    return this.node.getPeers().map((p) => p.toString());
  }

  penalize(peer: string, reason: string): void {
    this.#log('penalising %s: %s', peer, reason);
    this.node.services.reputation.penalize(peer);
  }

  score(peer: string): number {
    return internals(this.#pubsub).getScore(peer);
  }

  async addresses(): Promise<string[]> {
    return this.node.getMultiaddrs().map((a) => a.toString());
  }

  async peerAddresses(peer: string): Promise<string[]> {
    if (this.#stopped) return [];
    try {
      const known = await this.node.peerStore.get(peerIdFromString(peer));
      return known.addresses.map((a) => a.multiaddr.toString());
    } catch {
      return []; // not in the peer store, or not a peer id
    }
  }

  /**
   * Adds sampled addresses to the peer store (bad ones are skipped) so `fetch` can dial; a
   * connected peer's are known already (identify), and a peer-store write is not cheap.
   */
  async learnAddresses(peer: string, addresses: readonly string[]): Promise<void> {
    if (this.#stopped || peer === this.id) return;
    let id: PeerId;
    try {
      id = peerIdFromString(peer);
    } catch {
      return;
    }
    if (this.node.getConnections(id).length > 0) return;
    const parsed = addresses.flatMap((a) => {
      try {
        return [multiaddr(a)];
      } catch {
        return [];
      }
    });
    if (parsed.length === 0) return;
    try {
      await this.node.peerStore.merge(id, { multiaddrs: parsed });
    } catch (err) {
      this.#log('ignoring addresses of %s: %s', peer, err);
    }
  }

  /** Bytes of announced payloads currently cached for serving. */
  cachedPayloadBytes(): number {
    return this.#cache.bytes;
  }

  /** Announced-payload fetches: running, waiting, bytes in flight (and its peak), refused; and the limits. */
  fetchStats(): FetchLimiterStats & {
    readonly maxBytes: number;
    readonly cacheBytes: number;
    readonly cacheLimit: number;
  } {
    return {
      ...this.#fetchLimiter.stats,
      maxBytes: this.#fetchLimiter.limits.maxBytes,
      cacheBytes: this.#cache.bytes,
      cacheLimit: this.#cache.maxBytes,
    };
  }

  /**
   * Budgets that follow the largest topic payload (a small multiple of the model size):
   * bytes of unvalidated payloads in flight and bytes of the payload cache, unless fixed by init.
   */
  #sizeBudgets(): void {
    const largest = Math.max(...this.#topicLimits.values());
    if (this.#fixedFetchBytes === undefined) this.#fetchLimiter.setMaxBytes(FETCH_BYTES_FACTOR * largest);
    if (this.#fixedCacheBytes === undefined) {
      this.#cache.setMaxBytes(Math.min(PAYLOAD_CACHE_BYTES, PAYLOAD_CACHE_FACTOR * largest));
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopping.abort(new Error('gossip stopped'));
    await this.#streamKeeper.stop();
    this.node.removeEventListener('peer:connect', this.#onConnect);
    this.node.removeEventListener('peer:disconnect', this.#onDisconnect);
    this.#pubsub.removeEventListener('message', this.#onMessage);
    for (const topic of this.#subs.list()) {
      this.#pubsub.topicValidators.delete(topic);
      if (this.#pubsub.getTopics().includes(topic)) this.#pubsub.unsubscribe(topic);
    }
    this.#subs.clear();
    const protocols = [...this.#handled.keys()];
    this.#handled.clear();
    this.#cache.clear();
    if (this.#stopNode) {
      await this.node.stop();
    } else if (protocols.length > 0) {
      await this.node.unhandle(protocols);
    }
    this.#started = false;
  }

  readonly #onConnect = (evt: CustomEvent<PeerId>): void => {
    this.safeDispatchEvent('peer:connect', { detail: evt.detail.toString() });
  };

  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.safeDispatchEvent('peer:disconnect', { detail: evt.detail.toString() });
  };

  readonly #onMessage = (evt: CustomEvent<Message>): void => {
    const m = this.#accepted.get(evt.detail);
    if (m == null) return;
    this.#accepted.delete(evt.detail);
    deliver(this.#subs.handlers(m.topic), m, this.#log);
  };

  readonly #servePayload: Responder = async (_from, request) => {
    const payload = this.#cache.get(toHex(request));
    if (payload == null) throw new Error('payload not found');
    this.payloadStats.bytesServed += payload.byteLength;
    return payload;
  };

  /** Gossipsub's topic validator: unframe, fetch if announced, run the user's validators. */
  async #validateMessage(source: PeerId, msg: Message): Promise<TopicValidatorResult> {
    const from = source.toString();
    if (msg.type !== 'signed') {
      this.#rejectTraffic('frame', 'unsigned', from);
      return TopicValidatorResult.Reject;
    }
    let frame: Frame;
    try {
      frame = decodeFrame(msg.data);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.#rejectTraffic('frame', 'bad-frame', from, err.message);
      return TopicValidatorResult.Reject;
    }
    if (frame.kind === 'inline') return this.#runUserValidators(msg, frame.payload, undefined);
    const author = msg.from.toString();
    if (frame.size <= this.#inlineLimit && frame.size > 0) {
      // a well-behaved author inlines small payloads; tolerate other limits, but log
      this.#log('announcement of only %d bytes from %s', frame.size, author);
    }
    if (frame.size > this.#maxPayloadBytes) {
      this.#rejectTraffic('frame', 'announce-too-large', from, `${frame.size} > ${this.#maxPayloadBytes}`);
      return TopicValidatorResult.Ignore;
    }
    const topicLimit = this.#topicLimits.get(msg.topic);
    if (topicLimit !== undefined && frame.size > topicLimit) {
      // More than the topic's largest possible message (e.g. its architecture's fp32 keyframe): a lie.
      this.#rejectTraffic('frame', 'implausible-size', from, `${frame.size} > ${topicLimit} bytes for ${msg.topic}`);
      return TopicValidatorResult.Reject;
    }
    const key = toHex(frame.hash);
    const cached = this.#cache.get(key);
    if (cached != null) return this.#runUserValidators(msg, cached, key);
    // Bytes of unvalidated payloads are reserved from the fetch budget until validation ends.
    const release = await this.#fetchLimiter.acquire(
      from,
      frame.size,
      AbortSignal.any([AbortSignal.timeout(this.#payloadFetchTimeout), this.#stopping.signal]),
    );
    if (release === undefined) {
      this.#rejectTraffic('fetch', 'busy', from, `${frame.size} bytes: fetch limits reached`);
      return TopicValidatorResult.Ignore;
    }
    try {
      const fetched = await this.#fetchPayload(msg.topic, frame.size, frame.hash, from, author);
      if (fetched == null) {
        this.#rejectTraffic('fetch', 'unavailable', from, `${frame.size} bytes from ${author}`);
        return TopicValidatorResult.Ignore;
      }
      return await this.#runUserValidators(msg, fetched, key);
    } finally {
      release();
    }
  }

  /** The user's validators on the full payload; an accepted announced payload enters the cache. */
  async #runUserValidators(
    msg: Message,
    data: Uint8Array,
    cacheKey: string | undefined,
  ): Promise<TopicValidatorResult> {
    if (this.#stopped || msg.type !== 'signed') return TopicValidatorResult.Ignore;
    const m: GossipMessage = { from: msg.from.toString(), topic: msg.topic, data };
    const verdict: Verdict = await runValidators(this.#subs.validators(msg.topic), m, this.#log);
    if (verdict === 'accept') {
      if (cacheKey !== undefined) this.#cache.put(cacheKey, data);
      this.#accepted.set(msg, m);
      return TopicValidatorResult.Accept;
    }
    return verdict === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore;
  }

  /** Reports refused incoming traffic (a `rejected` event; logged at debug level here). */
  #rejectTraffic(stage: RejectStage, reason: string, peer: string | undefined, detail?: string, count = 1): void {
    this.#log('rejected at %s stage from %s: %s %s', stage, peer, reason, detail ?? '');
    this.safeDispatchEvent('rejected', { detail: { stage, reason, peer, count, detail } });
  }

  /** Fetch an announced payload from the best sources in turn; undefined if none served it. */
  async #fetchPayload(
    topic: string,
    size: number,
    hash: Uint8Array,
    source: string,
    author: string,
  ): Promise<Uint8Array | undefined> {
    const key = toHex(hash);
    const cached = this.#cache.get(key);
    if (cached != null) return cached;
    const connected = new Set(this.peers());
    const candidates = [source];
    if (author !== source && connected.has(author)) candidates.push(author);
    for (const p of this.#pubsub.getSubscribers(topic)) {
      const id = p.toString();
      if (!candidates.includes(id) && connected.has(id)) candidates.push(id);
    }
    for (const peer of candidates.slice(0, this.#payloadFetchAttempts)) {
      if (this.#stopped) return undefined;
      try {
        const bytes = await this.fetch(peer, PAYLOAD_PROTOCOL, hash, {
          signal: AbortSignal.timeout(this.#payloadFetchTimeout),
          maxResponseBytes: size,
        });
        this.payloadStats.bytesFetched += bytes.byteLength;
        if (bytes.byteLength === size && bytesEqual(await sha256(bytes), hash)) {
          this.payloadStats.fetched++;
          return bytes;
        }
        this.#rejectTraffic('fetch', 'bad-payload', peer, `${bytes.byteLength} bytes for ${key.slice(0, 12)}`);
        this.penalize(peer, `served ${bytes.byteLength} bytes not matching announced payload ${key.slice(0, 12)}`);
      } catch (err) {
        this.#log('payload %s from %s failed: %s', key.slice(0, 12), peer, err);
      }
    }
    this.payloadStats.unavailable++;
    this.#log.error('payload %s (%d bytes) unavailable from %d sources', key.slice(0, 12), size, candidates.length);
    return undefined;
  }

  /** Serve one inbound request/response stream. Never throws: failures abort the stream. */
  async #respond(protocol: string, stream: Stream, remote: PeerId): Promise<void> {
    const entry = this.#handled.get(protocol);
    // Not stream.log.newScope(): a logger per inbound stream cost 2% of a 20-peer libp2p
    // run (a debug instance and an isatty call each), for a line written only on failure.
    const log = this.#log;
    if (entry == null) {
      stream.abort(new Error(`${protocol} not handled`));
      return;
    }
    const peer = remote.toString();
    const signal = AbortSignal.any([AbortSignal.timeout(entry.timeout), this.#stopping.signal]);
    try {
      const read = await readRequest(
        stream,
        entry.maxRequestBytes,
        AbortSignal.any([AbortSignal.timeout(entry.readTimeout), this.#stopping.signal]),
      );
      if (read.kind === 'too-large') {
        const size = `${read.atLeast === true ? 'at least ' : ''}${read.length} bytes`;
        this.#rejectTraffic(entry.stage, 'request-too-large', peer, `${protocol}: ${size}`);
        const message = text(`request too large: ${size}, limit ${entry.maxRequestBytes}`);
        await sendResponse(stream, STATUS_TOO_LARGE, message, signal);
        return;
      }
      if (read.kind !== 'ok') {
        // Malformed framing, or a request too slow to arrive: no answer, close at once.
        this.#rejectTraffic(entry.stage, 'bad-request', peer, `${protocol}: ${read.why}`);
        stream.abort(new Error(`bad request: ${read.why}`));
        return;
      }
      let status = STATUS_OK;
      let body: Uint8Array;
      try {
        body = await raceAbort(entry.responder(peer, read.request), signal);
      } catch (err) {
        if (signal.aborted) throw err;
        status = STATUS_ERROR;
        body = text(err instanceof Error ? err.message : String(err));
      }
      await sendResponse(stream, status, body, signal);
    } catch (err) {
      log('%s from %p failed: %s', protocol, remote, err);
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

function text(s: string): Uint8Array {
  return new TextEncoder().encode(s.slice(0, MAX_ERROR_TEXT));
}
