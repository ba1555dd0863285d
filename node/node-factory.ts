/**
 * libp2p nodes for Node.js: TCP + WebSockets listeners, optionally WebRTC-Direct, WebRTC
 * (private-to-private, signalled over circuit relay) and a circuit-relay-v2 server for
 * browsers; noise, yamux, identify, ping, gossipsub tuned for FL; bootstrap and mDNS
 * optional. Imports Node-only modules (TCP, mDNS), so it lives in node/: browsers use
 * `src/net/browser-factory.ts`.
 *
 * @example
 * ```ts
 * const node = await createNodeLibp2p({ loopback: true })   // 127.0.0.1, tests
 * const gossip = await createLibp2pGossip(node)
 * ```
 */
import { bootstrap } from '@libp2p/bootstrap';
import type { CircuitRelayServerInit } from '@libp2p/circuit-relay-v2';
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import type { PeerDiscovery, PrivateKey } from '@libp2p/interface';
import type { MulticastDNSInit } from '@libp2p/mdns';
import { mdns } from '@libp2p/mdns';
import { noise } from '@libp2p/noise';
import { tcp } from '@libp2p/tcp';
import { webRTC, webRTCDirect } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { yamux } from '@libp2p/yamux';
import type { Libp2pOptions } from 'libp2p';
import { createLibp2p } from 'libp2p';
import { CONNECTION_MONITOR } from '../src/net/constants.ts';
import type { GossipTuning } from '../src/net/gossipsub-config.ts';
import { baseServices } from '../src/net/gossipsub-config.ts';
import type { MeshflNode } from '../src/net/memory-factory.ts';

export type { MemoryLibp2pInit, MeshflNode, MeshflServices } from '../src/net/memory-factory.ts';
export { createMemoryLibp2p } from '../src/net/memory-factory.ts';

export interface NodeLibp2pInit {
  /** Identity, e.g. loaded from disk for a persistent peer id (default: fresh Ed25519). */
  privateKey?: PrivateKey;
  /**
   * Listen addresses (default: TCP and WebSockets on 127.0.0.1, random ports, plus
   * WebRTC-Direct on UDP when `webRTCDirect`). A daemon reachable from other hosts passes
   * `/ip4/0.0.0.0/...` explicitly.
   */
  listen?: string[];
  /** Add the WebRTC-Direct transport (browsers dial the daemon directly). Default false. */
  webRTCDirect?: boolean;
  /** Add WebRTC (private-to-private) + circuit relay transport. Default false. */
  webRTC?: boolean;
  /** Run a circuit-relay-v2 server so browsers can reserve slots and signal WebRTC. Default false. */
  relayServer?: boolean | CircuitRelayServerInit;
  /** Bootstrap peers (multiaddrs with /p2p/); none by default. */
  bootstrap?: string[];
  /** mDNS discovery on the local network (default off; tests must leave it off). */
  mdns?: boolean | MulticastDNSInit;
  /** ICE servers etc. for WebRTC (default `{ iceServers: [] }`: no public STUN). */
  rtcConfiguration?: RTCConfiguration;
  /**
   * Many nodes on 127.0.0.1 (tests, local simulations): raises the per-host inbound
   * connection rate limits and relaxes gossipsub's IP-colocation penalty. Default false.
   */
  loopback?: boolean;
  /** Gossipsub tuning (topics to score, weights, overrides). */
  gossip?: GossipTuning;
  /** Connection manager options, applied over the defaults. */
  connectionManager?: Libp2pOptions['connectionManager'];
}

/** Per-host inbound limits used with `loopback: true`. */
const LOOPBACK_INBOUND_THRESHOLD = 10_000;
const LOOPBACK_PENDING_CONNECTIONS = 256;

export async function createNodeLibp2p(init: NodeLibp2pInit = {}): Promise<MeshflNode> {
  const rtcConfiguration = init.rtcConfiguration ?? { iceServers: [] };
  const listen = init.listen ?? [
    '/ip4/127.0.0.1/tcp/0',
    '/ip4/127.0.0.1/tcp/0/ws',
    ...(init.webRTCDirect === true ? ['/ip4/127.0.0.1/udp/0/webrtc-direct'] : []),
  ];
  const transports: NonNullable<Libp2pOptions['transports']> = [tcp(), webSockets()];
  if (init.webRTCDirect === true) transports.push(webRTCDirect({ rtcConfiguration }));
  if (init.webRTC === true) transports.push(webRTC({ rtcConfiguration }), circuitRelayTransport());
  const peerDiscovery: Array<(components: never) => PeerDiscovery> = [];
  if (init.bootstrap != null && init.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: init.bootstrap }));
  if (init.mdns != null && init.mdns !== false) peerDiscovery.push(mdns(init.mdns === true ? {} : init.mdns));
  const loopback = init.loopback === true;
  const services: Record<string, unknown> = baseServices({
    ...init.gossip,
    relaxColocation: init.gossip?.relaxColocation ?? loopback,
  });
  if (init.relayServer != null && init.relayServer !== false) {
    services.relay = circuitRelayServer(init.relayServer === true ? {} : init.relayServer);
  }
  const node = await createLibp2p({
    ...(init.privateKey != null ? { privateKey: init.privateKey } : {}),
    addresses: { listen },
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: CONNECTION_MONITOR,
    peerDiscovery: peerDiscovery as Libp2pOptions['peerDiscovery'],
    connectionManager: {
      ...(loopback
        ? {
            inboundConnectionThreshold: LOOPBACK_INBOUND_THRESHOLD,
            maxIncomingPendingConnections: LOOPBACK_PENDING_CONNECTIONS,
          }
        : {}),
      ...init.connectionManager,
    },
    services: services as Libp2pOptions<MeshflNode['services']>['services'],
  });
  return node as unknown as MeshflNode;
}
