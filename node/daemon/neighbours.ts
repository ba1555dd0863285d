/**
 * The neighbours a daemon has been connected to, with their dialable addresses, persisted
 * in <dataDir>/peers.json so that a restart (on the same or another port, ours or theirs)
 * finds them again: the Redialer (src/net/redial.ts) dials them whenever fewer than
 * `mesh.minPeers` peers are connected. Peers with a negative gossip score are not saved.
 */
import type { PeerId } from '@libp2p/interface';
import type { Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import type { KnownPeer } from '../../src/net/redial.ts';
import type { MeshflNode } from '../node-factory.ts';
import type { Logger } from './logger.ts';
import type { DataStore, KnownPeerRecord } from './store.ts';

/** TCP or WebSockets over IP: what another daemon can dial (not relayed, not WebRTC). */
const DIALABLE = /^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d+(\/ws)?(\/p2p\/[^/]+)?$/;

export class NeighbourBook {
  readonly #store: DataStore;
  readonly #node: MeshflNode;
  readonly #gossip: Libp2pGossip;
  readonly #logger: Logger;
  readonly #peers = new Map<string, KnownPeerRecord>();
  #dirty = false;
  #saving: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(
    store: DataStore,
    node: MeshflNode,
    gossip: Libp2pGossip,
    logger: Logger,
    loaded: readonly KnownPeerRecord[],
  ) {
    this.#store = store;
    this.#node = node;
    this.#gossip = gossip;
    this.#logger = logger;
    for (const p of loaded) if (p.id !== node.peerId.toString()) this.#peers.set(p.id, p);
  }

  /** For the Redialer. */
  known(): KnownPeer[] {
    return [...this.#peers.values()];
  }

  get size(): number {
    return this.#peers.size;
  }

  /** A refresh after `delayMs` (e.g. once identify has told us a new peer's addresses); one pending at a time. */
  refreshSoon(delayMs: number): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.refresh();
    }, delayMs);
  }

  /** Cancels a pending refresh and saves once more. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.refresh();
  }

  /** Records the connected peers' current addresses; saves peers.json if anything changed. */
  async refresh(): Promise<void> {
    if (this.#saving) return this.#saving;
    const run = this.#save();
    this.#saving = run;
    // Cleared only after the assignment: #save may finish without ever awaiting.
    void run.finally(() => {
      if (this.#saving === run) this.#saving = undefined;
    });
    return run;
  }

  async #save(): Promise<void> {
    try {
      for (const peer of this.#node.getPeers()) await this.#observe(peer);
      if (this.#dirty) {
        this.#store.saveKnownPeers([...this.#peers.values()]);
        this.#dirty = false;
      }
    } catch (err) {
      this.#logger.warn('cannot save the known peers', { error: err instanceof Error ? err : String(err) });
    }
  }

  async #observe(peer: PeerId): Promise<void> {
    const id = peer.toString();
    const score = this.#gossip.score(id);
    if (score < 0) {
      // Penalised peers are not worth finding again.
      this.#logger.debug('not remembering a penalised peer', { remote: id, score });
      if (this.#peers.delete(id)) this.#dirty = true;
      return;
    }
    let addrs: string[] = [];
    try {
      const stored = await this.#node.peerStore.get(peer);
      addrs = stored.addresses
        .map((a) => a.multiaddr.toString())
        .filter((a) => DIALABLE.test(a))
        .map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${id}`));
    } catch {
      // not in the peer store (yet)
    }
    if (addrs.length === 0) {
      this.#logger.debug('no dialable address known for a neighbour', { remote: id });
      return;
    }
    const old = this.#peers.get(id);
    const sameAddrs =
      old !== undefined && old.addrs.length === addrs.length && old.addrs.every((a, i) => a === addrs[i]);
    // lastSeen is refreshed at most once a minute, so a steady mesh does not rewrite the file.
    const stale = old === undefined || Date.now() - Date.parse(old.lastSeen) > 60_000;
    if (!sameAddrs || stale) {
      this.#peers.set(id, { id, addrs, lastSeen: new Date().toISOString() });
      this.#dirty = true;
    }
  }
}
