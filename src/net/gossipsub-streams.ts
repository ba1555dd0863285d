/**
 * Keeps one gossipsub outbound stream open to every directly connected gossipsub peer.
 *
 * `@libp2p/gossipsub` 17 opens its outbound stream to a peer once, when the peer connects
 * (or opens a stream to us). If that `newStream` fails (a peer whose event loop is busy
 * training, a negotiation timeout on a loaded machine) or the stream closes while the
 * connection stays up, it logs the error and never tries again (its source marks this
 * as a known weakness). The two peers then share a connection but no
 * gossip: our subscriptions never reach the peer, and we never publish to it. Measured
 * here: the browser e2e test lost a page this way in about half of its runs under load,
 * and the three-daemon mesh test an isolated daemon.
 *
 * Both failures were seen with a browser page whose main thread was blocked for over 10 s
 * (libp2p's protocol negotiation timeout) while it compiled WebGL shaders on a loaded machine.
 *
 * A peer that has an open, unlimited connection and speaks a gossipsub protocol but has no
 * outbound stream on two checks in a row is handed back to gossipsub as newly connected
 * (`onPeerConnected`, which queues the stream). Like gossipsub-hooks.ts, this relies on
 * internals checked to exist first; without them nothing runs and `start` returns false.
 */
import type { GossipSub } from '@libp2p/gossipsub';
import type { Connection, Libp2p, PeerId } from '@libp2p/interface';

/** How often connected peers are checked for a missing outbound stream. */
export const STREAM_CHECK_INTERVAL_MS = 5_000;

interface StreamInternals {
  readonly protocols: readonly string[];
  /** Peers gossipsub has added (on connect via identify, or on their inbound stream). */
  readonly peers: ReadonlyMap<string, unknown>;
  readonly streamsOutbound: ReadonlyMap<string, unknown>;
  onPeerConnected(peerId: PeerId, connection: Connection): void;
}

function streamInternals(pubsub: GossipSub): StreamInternals | undefined {
  const ps = pubsub as unknown as Partial<StreamInternals>;
  if (
    !Array.isArray(ps.protocols) ||
    !(ps.peers instanceof Map) ||
    !(ps.streamsOutbound instanceof Map) ||
    typeof ps.onPeerConnected !== 'function'
  )
    return undefined;
  return ps as StreamInternals;
}

/** Time for one identify run the keeper starts. */
export const KEEPER_IDENTIFY_TIMEOUT_MS = 10_000;

export interface StreamKeeperInit {
  readonly intervalMs?: number;
  /**
   * Runs identify on a connection (the node's identify service). A peer busy when it
   * connected may have timed identify out: then neither side's gossipsub learns that the
   * other speaks it, and nothing opens a stream. Identify is run again for such peers.
   */
  readonly identify?: (connection: Connection, signal: AbortSignal) => Promise<unknown>;
  /** Called for every peer whose stream is recreated (for a log line or a counter). */
  readonly onRepair?: (peer: string) => void;
}

export class OutboundStreamKeeper {
  readonly #node: Libp2p;
  readonly #pubsub: GossipSub;
  readonly #init: StreamKeeperInit;
  /** Peers seen without an outbound stream at the previous check. */
  #missing = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #checking: Promise<void> | undefined;
  repairs = 0;
  reidentified = 0;

  constructor(node: Libp2p, pubsub: GossipSub, init: StreamKeeperInit = {}) {
    this.#node = node;
    this.#pubsub = pubsub;
    this.#init = init;
  }

  /** Starts the checks; false when this gossipsub lacks the internals (nothing runs then). */
  start(): boolean {
    if (streamInternals(this.#pubsub) === undefined) return false;
    if (this.#timer !== undefined) return true;
    this.#timer = setInterval(() => {
      if (this.#checking !== undefined) return;
      this.#checking = this.check().finally(() => {
        this.#checking = undefined;
      });
    }, this.#init.intervalMs ?? STREAM_CHECK_INTERVAL_MS);
    // A repair timer must not keep a process alive whose user stopped the libp2p node but
    // not the gossip (examples/node-peer.ts did not exit).
    (this.#timer as { unref?: () => void }).unref?.();
    return true;
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#checking;
  }

  /** One check (exposed for tests): repairs peers missing a stream on two checks in a row. */
  async check(): Promise<void> {
    const internals = streamInternals(this.#pubsub);
    if (internals === undefined) return;
    const missing = new Set<string>();
    for (const connection of this.#node.getConnections()) {
      if (connection.status !== 'open' || connection.limits !== undefined) continue;
      const peer = connection.remotePeer;
      const id = peer.toString();
      if (internals.streamsOutbound.has(id) || missing.has(id)) continue;
      // A peer that opened a gossipsub stream to us is known to gossipsub even when identify
      // timed out on it (a busy peer); otherwise ask the peer store.
      if (!internals.peers.has(id)) {
        const speaks = await this.#speaksGossipsub(peer, internals.protocols);
        if (speaks === 'unknown') {
          await this.#reidentify(id, connection, missing);
          continue;
        }
        if (!speaks) continue;
      }
      missing.add(id);
      if (!this.#missing.has(id)) continue; // give a stream being opened one interval
      this.repairs++;
      this.#init.onRepair?.(id);
      internals.onPeerConnected(peer, connection);
    }
    this.#missing = missing;
  }

  /** Whether the peer store says the peer speaks gossipsub; 'unknown' before identify. */
  async #speaksGossipsub(peer: PeerId, protocols: readonly string[]): Promise<boolean | 'unknown'> {
    try {
      const known = await this.#node.peerStore.get(peer);
      if (known.protocols.length === 0) return 'unknown';
      return known.protocols.some((p) => protocols.includes(p));
    } catch {
      return 'unknown';
    }
  }

  /** Runs identify again on a peer left unidentified for a whole interval. */
  async #reidentify(id: string, connection: Connection, missing: Set<string>): Promise<void> {
    missing.add(id);
    if (!this.#missing.has(id) || this.#init.identify === undefined) return;
    try {
      await this.#init.identify(connection, AbortSignal.timeout(KEEPER_IDENTIFY_TIMEOUT_MS));
      this.reidentified++;
    } catch {
      // tried again at the next check
    }
  }
}
