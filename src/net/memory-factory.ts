/**
 * A libp2p node on the in-process memory transport (`@libp2p/memory`), with the same
 * services and gossipsub tuning as the real ones: for tests and simulations of many
 * libp2p nodes in one process. Environment-neutral.
 *
 * Connection "encryption" is plaintext by default (noise is offered second, for peers that
 * speak only noise). A memory address is reachable only from this process (the transport's
 * listeners are a map in this module's memory), so no byte leaves it and no outside peer
 * can connect; every node on it was created by the same program. Noise here bought nothing
 * but cost: 15-19% of a 20- or 30-peer simulation's CPU (ChaCha20-Poly1305 and framing of
 * every 64 KiB chunk, docs/PERFORMANCE.md). Plaintext trusts the public key the remote
 * sends, so with it a node could claim another's id: acceptable only where every node is
 * ours, which is why only this factory uses it. TCP, WebSocket, WebRTC (node-factory.ts,
 * browser-factory.ts) keep noise, and `encryption: 'noise'` restores it here.
 *
 * @example
 * ```ts
 * const a = await createMemoryLibp2p({ gossip: { relaxColocation: true } })
 * const b = await createMemoryLibp2p()
 * await b.dial(a.getMultiaddrs())
 * ```
 */

import type { Identify } from '@libp2p/identify';
import type { Libp2p, PrivateKey } from '@libp2p/interface';
import { memory } from '@libp2p/memory';
import { noise } from '@libp2p/noise';
import type { Ping } from '@libp2p/ping';
import { plaintext } from '@libp2p/plaintext';
import { yamux } from '@libp2p/yamux';
import type { Libp2pOptions } from 'libp2p';
import { createLibp2p } from 'libp2p';
import type { GossipServices, GossipTuning } from './gossipsub-config.ts';
import { baseServices } from './gossipsub-config.ts';

/** Services of every meshfl node (the relay server, when enabled, is untyped extra). */
export type MeshflServices = GossipServices & { identify: Identify; ping: Ping };
export type MeshflNode = Libp2p<MeshflServices>;

export interface MemoryLibp2pInit {
  /** Identity (default: a fresh Ed25519 key). */
  privateKey?: PrivateKey;
  /** Memory listen address name (default: a random unique name). */
  address?: string;
  /** Latency added to every buffer, ms (default 0). */
  latency?: number;
  /** Gossipsub tuning (default FL scoring; `relaxColocation` is irrelevant here). */
  gossip?: GossipTuning;
  /** Connection manager options, passed through. */
  connectionManager?: Libp2pOptions['connectionManager'];
  /**
   * Connection encrypter (default 'plaintext', with noise offered second; see above):
   * 'noise' for noise only, as on every other transport.
   */
  encryption?: 'plaintext' | 'noise';
}

let counter = 0;

export async function createMemoryLibp2p(init: MemoryLibp2pInit = {}): Promise<MeshflNode> {
  const address =
    init.address ??
    `meshfl-${Date.now().toString(36)}-${(counter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  return createLibp2p({
    ...(init.privateKey != null ? { privateKey: init.privateKey } : {}),
    addresses: { listen: [`/memory/${address}`] },
    transports: [memory({ latency: init.latency ?? 0 })],
    connectionEncrypters: init.encryption === 'noise' ? [noise()] : [plaintext(), noise()],
    streamMuxers: [yamux()],
    // No liveness pings: memory connections exist only inside one process and end when a
    // node stops, so a ping measures that process's event loop, not a link. With many nodes
    // in a busy process the pings timed out and cut healthy connections mid-transfer (30
    // libp2p nodes at load 25: 35 connections closed in 3 rounds and 104 of 559 pushes cut
    // with the monitor, none closed and 47 cut without; docs/PERFORMANCE.md).
    connectionMonitor: { enabled: false },
    connectionManager: init.connectionManager,
    services: baseServices(init.gossip),
  });
}
