/**
 * Healing: whenever fewer than `minPeers` peers are connected, dial the bootstrap list and
 * every known peer (persisted neighbours, peers connected earlier in this run) that is not
 * connected, each with its own exponential backoff (jittered, capped at `maxBackoffMs`,
 * reset on success). Issue 14: a daemon bootstrapped to a peer that restarted never
 * reconnected, because libp2p's bootstrap discovery runs only at start.
 *
 * A restarted peer is found both ways: its old neighbours redial its old address (same
 * port), and it dials the neighbours it persisted (new port). Environment-neutral; one
 * timer, stopped by `stop()`.
 */
import type { Libp2p, PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';

export interface KnownPeer {
  readonly id: string;
  /** Dialable multiaddrs (with or without /p2p/<id>); empty: dial by peer id (peer store addresses). */
  readonly addrs: readonly string[];
}

export interface RedialInit {
  /** Redial while fewer peers than this are connected. */
  readonly minPeers: number;
  /** Multiaddrs with /p2p/<id>, dialed like known peers. */
  readonly bootstrap?: readonly string[];
  /** Peers to try besides the bootstrap list and the peers connected earlier in this run. */
  readonly known?: () => Iterable<KnownPeer>;
  /** First retry delay after a failed dial (default 1 s); doubles up to maxBackoffMs. */
  readonly initialBackoffMs?: number;
  /** Longest delay between dials of one peer (default 10 s). */
  readonly maxBackoffMs?: number;
  /** How often the connection count is checked (default 1 s); a disconnect also triggers a check. */
  readonly checkIntervalMs?: number;
  /** Time for one dial (default 10 s). */
  readonly dialTimeoutMs?: number;
  /** Dials at once (default 4). */
  readonly concurrency?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface RedialStats {
  dials: number;
  connected: number;
  failed: number;
}

interface Target {
  readonly id: string;
  addrs: string[];
  /** Earliest time of the next dial. */
  next: number;
  backoff: number;
  dialing: boolean;
}

export const REDIAL_DEFAULTS = {
  initialBackoffMs: 1000,
  maxBackoffMs: 10_000,
  checkIntervalMs: 1000,
  dialTimeoutMs: 10_000,
  concurrency: 4,
} as const;

export class Redialer {
  readonly stats: RedialStats = { dials: 0, connected: 0, failed: 0 };
  readonly #node: Libp2p;
  readonly #init: RedialInit;
  readonly #targets = new Map<string, Target>();
  readonly #bootstrap: Array<{ id: string; addr: string }>;
  readonly #stopping = new AbortController();
  readonly #dials = new Set<Promise<void>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #started = false;

  constructor(node: Libp2p, init: RedialInit) {
    this.#node = node;
    this.#init = init;
    this.#bootstrap = (init.bootstrap ?? []).flatMap((addr) => {
      const id = multiaddr(addr)
        .getComponents()
        .find((c) => c.name === 'p2p')?.value;
      return id === undefined ? [] : [{ id, addr }];
    });
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#node.addEventListener('peer:connect', this.#onConnect);
    this.#node.addEventListener('peer:disconnect', this.#onDisconnect);
    for (const p of this.#node.getPeers()) this.#remember(p.toString(), []);
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#stopping.abort(new Error('redialer stopped'));
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#node.removeEventListener('peer:connect', this.#onConnect);
    this.#node.removeEventListener('peer:disconnect', this.#onDisconnect);
    await Promise.allSettled([...this.#dials]);
  }

  /** Peers dialed by this redialer (bootstrap, known, connected earlier). */
  targets(): string[] {
    return [...this.#targets.keys()];
  }

  readonly #onConnect = (e: CustomEvent<PeerId>): void => {
    const id = e.detail.toString();
    const t = this.#remember(id, []);
    t.backoff = this.#init.initialBackoffMs ?? REDIAL_DEFAULTS.initialBackoffMs;
    t.next = 0;
  };

  readonly #onDisconnect = (): void => {
    this.#schedule(0);
  };

  #remember(id: string, addrs: readonly string[]): Target {
    if (id === this.#node.peerId.toString()) {
      return { id, addrs: [], next: Number.POSITIVE_INFINITY, backoff: 0, dialing: false };
    }
    let t = this.#targets.get(id);
    if (t === undefined) {
      t = {
        id,
        addrs: [],
        next: 0,
        backoff: this.#init.initialBackoffMs ?? REDIAL_DEFAULTS.initialBackoffMs,
        dialing: false,
      };
      this.#targets.set(id, t);
    }
    for (const a of addrs) if (!t.addrs.includes(a)) t.addrs.push(a);
    return t;
  }

  #schedule(delay: number): void {
    if (!this.#started) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#check(), delay);
  }

  #check(): void {
    this.#timer = undefined;
    if (!this.#started) return;
    try {
      for (const b of this.#bootstrap) this.#remember(b.id, [b.addr]);
      for (const k of this.#init.known?.() ?? []) this.#remember(k.id, k.addrs);
      const connected = new Set(this.#node.getPeers().map((p) => p.toString()));
      if (connected.size < this.#init.minPeers) this.#dialSome(connected);
    } finally {
      this.#schedule(this.#init.checkIntervalMs ?? REDIAL_DEFAULTS.checkIntervalMs);
    }
  }

  #dialSome(connected: ReadonlySet<string>): void {
    const now = (this.#init.now ?? Date.now)();
    const concurrency = this.#init.concurrency ?? REDIAL_DEFAULTS.concurrency;
    const due = [...this.#targets.values()]
      .filter((t) => !t.dialing && !connected.has(t.id) && t.next <= now)
      .sort((a, b) => a.next - b.next);
    for (const t of due) {
      if (this.#dials.size >= concurrency) break;
      const dial = this.#dial(t);
      this.#dials.add(dial);
      void dial.finally(() => this.#dials.delete(dial));
    }
  }

  async #dial(t: Target): Promise<void> {
    t.dialing = true;
    this.stats.dials++;
    const signal = AbortSignal.any([
      this.#stopping.signal,
      AbortSignal.timeout(this.#init.dialTimeoutMs ?? REDIAL_DEFAULTS.dialTimeoutMs),
    ]);
    try {
      let target: PeerId | Multiaddr[];
      if (t.addrs.length > 0) {
        target = t.addrs.map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${t.id}`));
      } else {
        target = peerIdFromString(t.id);
      }
      await this.#node.dial(target, { signal });
      this.stats.connected++;
      t.backoff = this.#init.initialBackoffMs ?? REDIAL_DEFAULTS.initialBackoffMs;
      t.next = 0;
    } catch {
      this.stats.failed++;
      const now = (this.#init.now ?? Date.now)();
      const jitter = 0.8 + 0.4 * (this.#init.random ?? Math.random)();
      t.next = now + t.backoff * jitter;
      t.backoff = Math.min(this.#init.maxBackoffMs ?? REDIAL_DEFAULTS.maxBackoffMs, t.backoff * 2);
    } finally {
      t.dialing = false;
    }
  }
}
