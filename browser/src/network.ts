/**
 * The page's libp2p side: the node (WebSockets to the daemon, WebRTC to other browsers
 * through the daemon's relay), reaching the daemon with retries, and the neighbour dialer
 * that upgrades every task peer seen through the daemon to a direct WebRTC connection.
 */
import type { Libp2p } from '@libp2p/interface';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { createBrowserLibp2p } from '../../src/net/browser-factory.ts';
import type { MeshflNode } from '../../src/net/memory-factory.ts';
import { hasDirectConnection } from './connections.ts';
import {
  ADDRESS_DIAL_TIMEOUT_MS,
  DAEMON_DIAL_ATTEMPTS,
  DAEMON_DIAL_TIMEOUT_MS,
  DAEMON_RETRY_DELAY_MS,
  WEBRTC_DIAL_TIMEOUT_MS,
  WEBRTC_RETRY_AFTER_MS,
} from './constants.ts';

/** Why the page cannot take part; shown as is. */
export class UnsupportedBrowserError extends Error {
  override name = 'UnsupportedBrowserError';
}

export class DaemonUnreachableError extends Error {
  override name = 'DaemonUnreachableError';
}

/** Throws UnsupportedBrowserError when the tab lacks an API the peer needs. */
export function assertBrowserSupport(): void {
  if (typeof globalThis.RTCPeerConnection !== 'function') {
    throw new UnsupportedBrowserError(
      'This tab has no WebRTC (RTCPeerConnection is missing or disabled): it cannot reach other browsers. Enable WebRTC or use another browser.',
    );
  }
  if (typeof globalThis.WebSocket !== 'function') {
    throw new UnsupportedBrowserError('This tab has no WebSocket support: it cannot reach the daemon.');
  }
}

/** The last /p2p/<id> of a multiaddr, if any. */
export function peerIdOf(addr: Multiaddr): string | undefined {
  return addr
    .getComponents()
    .filter((c) => c.name === 'p2p')
    .at(-1)?.value;
}

/** Parses the daemon address a user typed; it must name the daemon's peer id. */
export function parseDaemonAddr(text: string): Multiaddr {
  let addr: Multiaddr;
  try {
    addr = multiaddr(text.trim());
  } catch (err) {
    throw new RangeError(`"${text}" is not a multiaddr: ${(err as Error).message}`);
  }
  if (peerIdOf(addr) === undefined) throw new RangeError(`${text} lacks the daemon's /p2p/<peer id>`);
  const names = addr.getComponents().map((c) => c.name);
  if (!names.some((n) => n === 'ws' || n === 'wss' || n === 'webrtc-direct')) {
    throw new RangeError(`${text} is not a WebSockets (/ws, /wss) or WebRTC-Direct address a browser can dial`);
  }
  return addr;
}

export interface NodeInit {
  /** Allow plain /ws and loopback/private addresses (pages served from loopback only). */
  readonly allowInsecureLoopback: boolean;
}

export function createPageNode(init: NodeInit): Promise<MeshflNode> {
  return createBrowserLibp2p({
    rtcConfiguration: { iceServers: [] },
    allowInsecureLoopback: init.allowInsecureLoopback,
    connectionManager: { addressDialTimeout: ADDRESS_DIAL_TIMEOUT_MS },
  });
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** One dial of the daemon, bounded by DAEMON_DIAL_TIMEOUT_MS. */
export async function dialDaemon(node: Libp2p, addr: Multiaddr, signal: AbortSignal): Promise<void> {
  await node.dial(addr, { signal: AbortSignal.any([signal, AbortSignal.timeout(DAEMON_DIAL_TIMEOUT_MS)]) });
}

/** Dials the daemon, retrying; throws DaemonUnreachableError naming every failure. */
export async function connectDaemon(
  node: Libp2p,
  addr: Multiaddr,
  signal: AbortSignal,
  onAttempt: (attempt: number) => void,
): Promise<void> {
  const failures: string[] = [];
  for (let attempt = 1; attempt <= DAEMON_DIAL_ATTEMPTS; attempt++) {
    onAttempt(attempt);
    try {
      await dialDaemon(node, addr, signal);
      return;
    } catch (err) {
      if (signal.aborted) throw err;
      failures.push(`attempt ${attempt}: ${(err as Error).message}`);
      if (attempt < DAEMON_DIAL_ATTEMPTS) await delay(DAEMON_RETRY_DELAY_MS, signal);
    }
  }
  throw new DaemonUnreachableError(`the daemon at ${addr.toString()} cannot be reached (${failures.join('; ')})`);
}

/** The outcome of the latest WebRTC dial to a neighbour, for the view. */
export type DialState =
  | { readonly kind: 'dialling'; readonly since: number }
  | { readonly kind: 'connected' }
  | { readonly kind: 'failed'; readonly at: number; readonly error: string };

/**
 * Dials a direct WebRTC connection to every task peer seen on the topic, through the
 * daemon's relay (`<relay>/p2p-circuit/webrtc/p2p/<peer>`). Only the peer with the
 * smaller id dials, so two browsers do not race each other; failed dials are retried after
 * `WEBRTC_RETRY_AFTER_MS`. Peers without WebRTC (Node peers) fail once in a while and are
 * still reached through the daemon's gossip. Dials are owned here and awaited by `stop()`.
 */
export class NeighbourDialer {
  readonly #node: Libp2p;
  /** The daemon's current address: it changes when a restarted daemon listens elsewhere. */
  readonly #relay: () => Multiaddr;
  readonly #states = new Map<string, DialState>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stopping = new AbortController();

  constructor(node: Libp2p, relay: () => Multiaddr) {
    this.#node = node;
    this.#relay = relay;
  }

  get states(): ReadonlyMap<string, DialState> {
    return this.#states;
  }

  /** Call for every author seen on the task topic. */
  seen(peer: string): void {
    const self = this.#node.peerId.toString();
    if (peer === self || peer === peerIdOf(this.#relay()) || this.#stopping.signal.aborted) return;
    if (hasDirectConnection(this.#node, peer)) {
      this.#states.set(peer, { kind: 'connected' });
      return;
    }
    if (self > peer) return; // the other side dials
    const state = this.#states.get(peer);
    if (state?.kind === 'dialling') return;
    if (state?.kind === 'failed' && Date.now() - state.at < WEBRTC_RETRY_AFTER_MS) return;
    this.#dial(peer);
  }

  #dial(peer: string): void {
    this.#states.set(peer, { kind: 'dialling', since: Date.now() });
    const target = this.#relay().encapsulate(`/p2p-circuit/webrtc/p2p/${peer}`);
    const signal = AbortSignal.any([this.#stopping.signal, AbortSignal.timeout(WEBRTC_DIAL_TIMEOUT_MS)]);
    const task = (async () => {
      try {
        await this.#node.dial(target, { signal });
        this.#states.set(peer, { kind: 'connected' });
      } catch (err) {
        this.#states.set(peer, { kind: 'failed', at: Date.now(), error: (err as Error).message });
      }
    })();
    this.#inFlight.add(task);
    void task.finally(() => this.#inFlight.delete(task));
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await Promise.allSettled([...this.#inFlight]);
  }
}
