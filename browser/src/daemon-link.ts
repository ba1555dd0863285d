/**
 * Keeps the page connected to its daemon. The daemon is the page's only way into the mesh
 * (its gossip, and the relay that signals WebRTC to other pages), so a lost connection is
 * redialled with backoff for as long as the page runs, re-reading the daemon's current
 * address first (a restarted daemon may listen on another port). The link's state is shown
 * to the user: a lost daemon is an error, not a quiet solo run.
 */
import type { Libp2p, PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { LINK_BACKOFF_MAX_MS, LINK_BACKOFF_MIN_MS, LINK_CHECK_INTERVAL_MS } from './constants.ts';
import { delay, peerIdOf } from './network.ts';

export type LinkState =
  | { readonly kind: 'connected'; readonly since: number; readonly reconnects: number }
  | {
      readonly kind: 'lost';
      readonly since: number;
      readonly attempt: number;
      readonly error: string | undefined;
    };

export interface DaemonLinkInit {
  readonly node: Libp2p;
  /** The address the page first reached the daemon at. */
  readonly addr: Multiaddr;
  /** The daemon's current address (e.g. from its `/status`), or undefined to keep the last one. */
  readonly resolve: (signal: AbortSignal) => Promise<Multiaddr | undefined>;
  /** Dials once; rejects on failure. */
  readonly dial: (addr: Multiaddr, signal: AbortSignal) => Promise<void>;
  readonly onChange: (state: LinkState) => void;
}

/** Backoff before redial attempt `attempt` (1-based): doubling from the minimum, capped. */
export function linkBackoffMs(attempt: number): number {
  return Math.min(LINK_BACKOFF_MAX_MS, LINK_BACKOFF_MIN_MS * 2 ** Math.max(0, attempt - 1));
}

export class DaemonLink {
  readonly #init: DaemonLinkInit;
  readonly #stopping = new AbortController();
  #addr: Multiaddr;
  #state: LinkState;
  #reconnects = 0;
  /** The running redial loop, owned here and awaited by stop(). */
  #redial: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    if (event.detail.toString() === this.daemonId) this.#check();
  };

  constructor(init: DaemonLinkInit) {
    this.#init = init;
    this.#addr = init.addr;
    this.#state = { kind: 'connected', since: Date.now(), reconnects: 0 };
  }

  /** The daemon's address as last dialled (the relay other pages are reached through). */
  get addr(): Multiaddr {
    return this.#addr;
  }

  get daemonId(): string | undefined {
    return peerIdOf(this.#addr);
  }

  get state(): LinkState {
    return this.#state;
  }

  /** Starts watching; call once the first dial succeeded. */
  start(): void {
    this.#init.node.addEventListener('peer:disconnect', this.#onDisconnect);
    // The event can be missed (e.g. a connection that never fully opened): check as well.
    this.#timer = setInterval(() => this.#check(), LINK_CHECK_INTERVAL_MS);
    this.#init.onChange(this.#state);
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#init.node.removeEventListener('peer:disconnect', this.#onDisconnect);
    await this.#redial;
  }

  #connected(): boolean {
    const id = this.daemonId;
    return this.#init.node
      .getConnections()
      .some((c) => c.status === 'open' && c.limits === undefined && c.remotePeer.toString() === id);
  }

  #check(): void {
    if (this.#redial !== undefined || this.#stopping.signal.aborted || this.#connected()) return;
    this.#redial = this.#redialLoop().finally(() => {
      this.#redial = undefined;
    });
  }

  #set(state: LinkState): void {
    this.#state = state;
    this.#init.onChange(state);
  }

  async #redialLoop(): Promise<void> {
    const signal = this.#stopping.signal;
    const since = Date.now();
    let error: string | undefined;
    for (let attempt = 1; !signal.aborted; attempt++) {
      this.#set({ kind: 'lost', since, attempt, error });
      try {
        this.#addr = (await this.#init.resolve(signal).catch(() => undefined)) ?? this.#addr;
        await this.#init.dial(this.#addr, signal);
        if (this.#connected()) {
          this.#reconnects++;
          this.#set({ kind: 'connected', since: Date.now(), reconnects: this.#reconnects });
          return;
        }
        error = 'the dial succeeded but no direct connection is open';
      } catch (err) {
        if (signal.aborted) return;
        error = (err as Error).message;
      }
      try {
        await delay(linkBackoffMs(attempt), signal);
      } catch {
        return; // stopped
      }
    }
  }
}
