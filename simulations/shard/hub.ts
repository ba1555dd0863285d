/**
 * One long-lived libp2p node per shard process, listening on `--listen`: it dials the
 * bootstrap hubs (retrying until they are up), learns further hubs from their states, and
 * polls every known hub's state over a request/response protocol. The shard's run waits
 * on those states (barriers) and publishes its own through `update`.
 *
 * Polling, not gossip, because a barrier needs the latest state of every shard, also of
 * one that joined late, and a state request doubles as a liveness check.
 */
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { createNodeLibp2p } from '../../node/node-factory.ts';
import type { Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { createLibp2pGossip } from '../../src/net/libp2p-gossip.ts';
import {
  decodeRecordsRequest,
  decodeState,
  encodeJson,
  MAX_RECORDS_BYTES,
  MAX_STATE_BYTES,
  parseJson,
  SHARD_RECORDS_PROTOCOL,
  SHARD_STATE_PROTOCOL,
  ShardProtocolError,
  type ShardState,
} from './protocol.ts';

/** Pause between two polls of every known hub. */
const POLL_INTERVAL_MS = 250;
/** Time for one dial of a hub (bootstrap or learned). */
const HUB_DIAL_TIMEOUT_MS = 5_000;
/** Addresses kept per shard's hub (its listen addresses; a hub listens on one or a few). */
const MAX_ADDRESSES_PER_HUB = 8;
/**
 * A hub address learned from another hub's state is dropped after this many failed dials
 * (it was reachable from there, so it is up; bootstrap addresses are retried until every
 * shard is known, as the other process may start later).
 */
const MAX_LEARNED_DIAL_FAILURES = 10;
/** Time for one state request. */
const STATE_FETCH_TIMEOUT_MS = 10_000;
/** Time to fetch one strategy's records from a shard. */
export const RECORDS_FETCH_TIMEOUT_MS = 60_000;
/**
 * A known shard whose hub has not answered for this long is considered gone: a barrier
 * waiting on it fails instead of hanging.
 */
export const SHARD_SILENCE_TIMEOUT_MS = 60_000;

export interface HubInit {
  readonly shard: number;
  readonly shards: number;
  readonly scenario: string;
  readonly listen: string;
  readonly bootstrap: readonly string[];
  /** Answers a records request for a strategy index (JSON-serialisable). */
  readonly records: (strategy: number) => unknown;
  readonly log: (line: string) => void;
  /** Called once when another shard reports that it stopped its run. */
  readonly onAbortedElsewhere: (shard: number) => void;
}

interface Known {
  readonly peerId: string;
  state: ShardState;
  /** performance.now() of the last successful state answer. */
  seenAt: number;
}

/** A fatal inconsistency between shards (other scenario, other shard count, duplicate index). */
export class ShardMismatchError extends Error {
  override readonly name = 'ShardMismatchError';
}

/** Another shard stopped its run: this one stops too and writes what it measured. */
export class ShardAbortedError extends Error {
  override readonly name = 'ShardAbortedError';
}

const withoutPeerId = (a: string): string => a.replace(/\/p2p\/[^/]+$/, '');

export class Hub {
  readonly gossip: Libp2pGossip;
  readonly #init: HubInit;
  #state: ShardState;
  /** Shard index -> what its hub last said. */
  readonly #known = new Map<number, Known>();
  /** Addresses to dial until a connection is up: the bootstrap list, then learned hubs. */
  readonly #pending = new Set<string>();
  /** Hubs whose state did not parse (logged once each). */
  readonly #malformed = new Set<string>();
  /** Learned (not bootstrap) addresses in `pending` -> failed dials so far. */
  readonly #learned = new Map<string, number>();
  readonly #stopping = new AbortController();
  #poller: Promise<void> | undefined;
  #fatal: Error | undefined;
  readonly #changed = new Set<() => void>();

  private constructor(gossip: Libp2pGossip, init: HubInit) {
    this.gossip = gossip;
    this.#init = init;
    const own = gossip.node.getMultiaddrs().map((a) => a.toString());
    this.#state = {
      shard: init.shard,
      shards: init.shards,
      scenario: init.scenario,
      hubs: own,
      progress: null,
      roster: {},
      collected: 0,
      aborted: false,
    };
    const mine = new Set([withoutPeerId(init.listen), ...own.map(withoutPeerId)]);
    for (const a of init.bootstrap) if (!mine.has(withoutPeerId(a))) this.#pending.add(a);
  }

  static async start(init: HubInit): Promise<Hub> {
    let node: Awaited<ReturnType<typeof createNodeLibp2p>>;
    try {
      node = await createNodeLibp2p({ loopback: true, listen: [init.listen] });
    } catch (err) {
      // libp2p's message is long and generic; the cause is almost always a taken port.
      const reason = /EADDRINUSE|EADDRNOTAVAIL|EACCES/.exec(String((err as Error).message))?.[0] ?? 'failed';
      throw new Error(
        `cannot listen on ${init.listen} (${reason}): give --listen a free port of this machine's address`,
        {
          cause: err,
        },
      );
    }
    let gossip: Libp2pGossip;
    try {
      gossip = await createLibp2pGossip(node);
    } catch (err) {
      await node.stop();
      throw err;
    }
    const hub = new Hub(gossip, init);
    try {
      await gossip.handle(SHARD_STATE_PROTOCOL, async () => encodeJson(hub.#state));
      await gossip.handle(
        SHARD_RECORDS_PROTOCOL,
        async (_from, req) => encodeJson(init.records(decodeRecordsRequest(req))),
        { maxRequestBytes: 1024 },
      );
    } catch (err) {
      await gossip.stop();
      throw err;
    }
    hub.#poller = hub.#poll();
    return hub;
  }

  /** This hub's full addresses (with /p2p/), as other shards can dial them. */
  addresses(): string[] {
    return [...this.#state.hubs.filter((a) => a.includes(this.gossip.id))];
  }

  current(): ShardState {
    return this.#state;
  }

  /** Change what this hub serves (progress, roster, collected, aborted). */
  update(change: Partial<Pick<ShardState, 'progress' | 'roster' | 'collected' | 'aborted'>>): void {
    this.#state = { ...this.#state, ...change };
  }

  /** Latest state of every other shard that has answered. */
  others(): ShardState[] {
    return [...this.#known.values()].map((k) => k.state);
  }

  /**
   * Known shards (other than this one) whose hub has not answered for
   * `SHARD_SILENCE_TIMEOUT_MS`. A shard never heard from is not listed: barriers name it as
   * missing until their own timeout.
   */
  silent(): number[] {
    const out: number[] = [];
    const now = performance.now();
    for (let s = 0; s < this.#init.shards; s++) {
      if (s === this.#init.shard) continue;
      const k = this.#known.get(s);
      if (k && now - k.seenAt > SHARD_SILENCE_TIMEOUT_MS) out.push(s);
    }
    return out;
  }

  /** Peer id of shard `s`'s hub, once it has answered. */
  peerIdOf(s: number): string | undefined {
    return this.#known.get(s)?.peerId;
  }

  /**
   * Resolve once `missing()` returns null (checked after every poll). Rejects with what is
   * missing after `timeoutMs`, when a known shard falls silent, on a shard mismatch, when
   * `signal` aborts, or when another shard reports "aborted" (unless `othersAborted` is
   * 'ignore').
   */
  async waitFor(
    what: string,
    missing: () => string | null,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    options: { readonly othersAborted?: 'throw' | 'ignore' } = {},
  ): Promise<void> {
    const deadline = AbortSignal.timeout(timeoutMs);
    const signals = [deadline, this.#stopping.signal, ...(signal ? [signal] : [])];
    const any = AbortSignal.any(signals);
    let wake = (): void => {};
    const check = (): void => wake();
    this.#changed.add(check);
    any.addEventListener('abort', check, { once: true });
    try {
      for (;;) {
        if (this.#fatal) throw this.#fatal;
        const aborted = options.othersAborted === 'ignore' ? undefined : this.others().find((o) => o.aborted);
        if (aborted)
          throw new ShardAbortedError(`${what}: shard ${aborted.shard} stopped its run (interrupted or failed)`);
        const left = missing();
        if (left === null) return;
        const gone = this.silent();
        if (gone.length > 0)
          throw new Error(
            `${what}: shard(s) ${gone.join(', ')} stopped answering for ${SHARD_SILENCE_TIMEOUT_MS} ms (still waiting for ${left})`,
          );
        if (any.aborted) {
          if (deadline.aborted) throw new Error(`${what}: timed out after ${timeoutMs} ms waiting for ${left}`);
          throw any.reason;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      this.#changed.delete(check);
      any.removeEventListener('abort', check);
    }
  }

  async fetchRecords(shard: number, strategy: number): Promise<unknown> {
    const peer = this.peerIdOf(shard);
    if (peer === undefined) throw new Error(`no hub known for shard ${shard}`);
    const bytes = await this.gossip.fetch(peer, SHARD_RECORDS_PROTOCOL, encodeJson({ strategy }), {
      signal: AbortSignal.any([AbortSignal.timeout(RECORDS_FETCH_TIMEOUT_MS), this.#stopping.signal]),
      maxResponseBytes: MAX_RECORDS_BYTES,
    });
    return parseJson(bytes, `strategy ${strategy}'s records from shard ${shard}`);
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#poller;
    await this.gossip.stop();
  }

  #notify(): void {
    for (const f of this.#changed) f();
  }

  async #poll(): Promise<void> {
    const stop = this.#stopping.signal;
    while (!stop.aborted) {
      const peers = this.gossip.node.getPeers().map((p) => p.toString());
      // Once every other shard has answered there is nobody left to find.
      const dials = this.#known.size >= this.#init.shards - 1 ? [] : [...this.#pending];
      await Promise.all([...dials.map((a) => this.#dialHub(a)), ...peers.map((p) => this.#pollHub(p))]);
      this.#notify();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_INTERVAL_MS);
        stop.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
    }
  }

  async #dialHub(address: string): Promise<void> {
    const id = /\/p2p\/([^/]+)$/.exec(address)?.[1];
    const forget = (): void => {
      this.#pending.delete(address);
      this.#learned.delete(address);
    };
    if (id !== undefined && this.gossip.node.getPeers().some((p) => p.toString() === id)) {
      forget(); // already connected through another of its addresses
      return;
    }
    let ma: Multiaddr;
    try {
      ma = multiaddr(address);
    } catch {
      forget();
      return;
    }
    try {
      await this.gossip.node.dial(ma, {
        signal: AbortSignal.any([AbortSignal.timeout(HUB_DIAL_TIMEOUT_MS), this.#stopping.signal]),
      });
      forget();
    } catch {
      // Not up yet (the other process may start later): retried on the next poll. A learned
      // address that keeps failing is dropped.
      const failures = this.#learned.get(address);
      if (failures === undefined) return;
      if (failures + 1 >= MAX_LEARNED_DIAL_FAILURES) {
        forget();
        this.#init.log(
          `hub address ${address} learned from another shard: ${MAX_LEARNED_DIAL_FAILURES} dials failed, dropped`,
        );
      } else this.#learned.set(address, failures + 1);
    }
  }

  async #pollHub(peer: string): Promise<void> {
    let state: ShardState;
    try {
      const bytes = await this.gossip.fetch(peer, SHARD_STATE_PROTOCOL, new Uint8Array(), {
        signal: AbortSignal.any([AbortSignal.timeout(STATE_FETCH_TIMEOUT_MS), this.#stopping.signal]),
        maxResponseBytes: MAX_STATE_BYTES,
      });
      state = decodeState(bytes);
    } catch (err) {
      // A state that does not parse is said once per hub; then it is treated as silent.
      if (err instanceof ShardProtocolError && !this.#malformed.has(peer)) {
        this.#malformed.add(peer);
        this.#init.log(`hub ${peer} sent a state that does not parse, ignored: ${err.message}`);
      }
      return; // not a hub (or not answering now): silence is judged by `silent()`
    }
    if (state.scenario !== this.#state.scenario || state.shards !== this.#init.shards) {
      this.#fatal ??= new ShardMismatchError(
        `hub ${peer} runs shard ${state.shard}/${state.shards} of another scenario or shard count ` +
          `(scenario ${state.scenario}, ours ${this.#state.scenario} with ${this.#init.shards} shards): ` +
          'give every shard the same scenario file and the same n in --shard i/n',
      );
      return;
    }
    if (state.shard === this.#init.shard) {
      this.#fatal ??= new ShardMismatchError(`hub ${peer} also runs shard ${state.shard}: give each process its own i`);
      return;
    }
    const before = this.#known.get(state.shard);
    if (before && before.peerId !== peer) {
      this.#fatal ??= new ShardMismatchError(`two hubs (${before.peerId}, ${peer}) both run shard ${state.shard}`);
      return;
    }
    if (state.aborted && !before?.state.aborted) this.#init.onAbortedElsewhere(state.shard);
    if (!before)
      this.#init.log(`shard ${state.shard}/${state.shards} found at ${withoutPeerId(state.hubs[0] ?? peer)}`);
    this.#known.set(state.shard, { peerId: peer, state, seenAt: performance.now() });
    // Learn hubs the other knows (so shards that bootstrap to different hubs meet).
    // Capped: a hub listens on a few addresses, so more than that per shard is noise (or a lie).
    const cap = this.#init.shards * MAX_ADDRESSES_PER_HUB;
    const hubs = new Set(this.#state.hubs);
    const connected = new Set(this.gossip.node.getPeers().map((p) => p.toString()));
    for (const a of state.hubs) {
      if (hubs.has(a)) continue;
      if (hubs.size >= cap) break;
      hubs.add(a);
      const id = /\/p2p\/([^/]+)$/.exec(a)?.[1];
      if (id !== undefined && id !== this.gossip.id && !connected.has(id) && !this.#pending.has(a)) {
        this.#pending.add(a);
        this.#learned.set(a, 0);
      }
    }
    this.#state = { ...this.#state, hubs: [...hubs] };
  }
}
