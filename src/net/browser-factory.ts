/**
 * libp2p nodes for browsers: WebSockets, WebRTC (private-to-private, signalled through a
 * circuit relay), WebRTC-Direct and the circuit relay transport; listens on
 * `/p2p-circuit` and `/webrtc`; identify, ping and FL-tuned gossipsub. Imports no
 * Node-only module. Relayed connections are "limited": gossipsub does not run on them, so
 * updates flow once the direct WebRTC connection is up (FIELD-NOTES "Browsers").
 *
 * @example
 * ```ts
 * const node = await createBrowserLibp2p({ bootstrap: [relayAddr] })
 * const gossip = await createLibp2pGossip(node)
 * ```
 */
import { bootstrap } from '@libp2p/bootstrap';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import type { PeerDiscovery, PrivateKey } from '@libp2p/interface';
import { noise } from '@libp2p/noise';
import { webRTC, webRTCDirect } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { yamux } from '@libp2p/yamux';
import type { Libp2pOptions } from 'libp2p';
import { createLibp2p } from 'libp2p';
import { CONNECTION_MONITOR } from './constants.ts';
import type { GossipTuning } from './gossipsub-config.ts';
import { baseServices } from './gossipsub-config.ts';
import type { MeshflNode } from './memory-factory.ts';

export interface BrowserLibp2pInit {
  /** Identity (default: fresh Ed25519; persist it in IndexedDB to keep a peer id). */
  privateKey?: PrivateKey;
  /** Relay/daemon multiaddrs to dial at start (default none). */
  bootstrap?: string[];
  /** ICE configuration (default `{ iceServers: [] }`: no public STUN, works offline/LAN). */
  rtcConfiguration?: RTCConfiguration;
  /**
   * Allow dialing plain `/ws` and private/loopback IPs, which the browser default gater
   * refuses. Loopback tests only; production uses `/wss` or WebRTC-Direct. Default false.
   */
  allowInsecureLoopback?: boolean;
  /** Gossipsub tuning. */
  gossip?: GossipTuning;
  /** Connection manager options (consider a larger `addressDialTimeout` for WebRTC). */
  connectionManager?: Libp2pOptions['connectionManager'];
}

export async function createBrowserLibp2p(init: BrowserLibp2pInit = {}): Promise<MeshflNode> {
  const rtcConfiguration = init.rtcConfiguration ?? { iceServers: [] };
  const peerDiscovery: Array<(components: never) => PeerDiscovery> = [];
  if (init.bootstrap != null && init.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: init.bootstrap }));
  const node = await createLibp2p({
    ...(init.privateKey != null ? { privateKey: init.privateKey } : {}),
    addresses: { listen: ['/p2p-circuit', '/webrtc'] },
    transports: [
      webSockets(),
      webRTC({ rtcConfiguration }),
      webRTCDirect({ rtcConfiguration }),
      circuitRelayTransport(),
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: CONNECTION_MONITOR,
    peerDiscovery: peerDiscovery as Libp2pOptions['peerDiscovery'],
    ...(init.allowInsecureLoopback === true ? { connectionGater: { denyDialMultiaddr: () => false } } : {}),
    connectionManager: init.connectionManager,
    services: baseServices(init.gossip),
  });
  return node;
}
