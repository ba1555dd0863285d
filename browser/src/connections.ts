/**
 * What the live view shows about libp2p connections: the transport of each, read from
 * its remote address and its relay limits. A private-to-private WebRTC connection is
 * signalled through a relay, so the dialler's remote address reads
 * `<relay>/p2p-circuit/webrtc/p2p/<peer>` and the listener's `/webrtc/p2p/<peer>`: both
 * carry data directly between the browsers. A relayed connection (limited by the relay)
 * carries only signalling: gossipsub does not run over it.
 */
import type { Connection, Libp2p } from '@libp2p/interface';

export type TransportKind = 'webrtc' | 'webrtc-direct' | 'relayed' | 'websockets' | 'tcp' | 'other';

export interface ConnectionView {
  readonly peer: string;
  readonly transport: TransportKind;
  readonly remoteAddr: string;
  /** True when a relay limits this connection (data or time). */
  readonly limited: boolean;
  readonly direction: 'inbound' | 'outbound';
}

/** Protocol names of a multiaddr string, in order (`/ip4/1.2.3.4/tcp/1/ws` -> ip4, tcp, ws). */
function protocolNames(addr: string): string[] {
  const parts = addr.split('/').filter((p) => p !== '');
  const names: string[] = [];
  // Values follow protocol names; the ones here without a value are listed.
  const noValue = new Set(['ws', 'wss', 'p2p-circuit', 'webrtc', 'webrtc-direct', 'quic-v1', 'tls', 'noise', 'http']);
  for (let i = 0; i < parts.length; i++) {
    const name = parts[i];
    names.push(name);
    if (!noValue.has(name)) i++;
  }
  return names;
}

export function classifyTransport(remoteAddr: string, limited: boolean): TransportKind {
  const names = protocolNames(remoteAddr);
  const circuit = names.lastIndexOf('p2p-circuit');
  const after = circuit >= 0 ? names.slice(circuit + 1) : names;
  if (after.includes('webrtc')) return 'webrtc';
  if (after.includes('webrtc-direct')) return 'webrtc-direct';
  if (circuit >= 0 || limited) return 'relayed';
  if (after.includes('ws') || after.includes('wss')) return 'websockets';
  if (after.includes('tcp')) return 'tcp';
  return 'other';
}

export function connectionView(connection: Connection): ConnectionView {
  const remoteAddr = connection.remoteAddr.toString();
  const limited = connection.limits !== undefined;
  return {
    peer: connection.remotePeer.toString(),
    transport: classifyTransport(remoteAddr, limited),
    remoteAddr,
    limited,
    direction: connection.direction,
  };
}

/** Open connections of `node`, best first per peer (direct before limited). */
export function connectionViews(node: Libp2p): ConnectionView[] {
  return node
    .getConnections()
    .filter((c) => c.status === 'open')
    .map(connectionView)
    .sort((a, b) => a.peer.localeCompare(b.peer) || Number(a.limited) - Number(b.limited));
}

/** True when `peer` has an open connection that gossipsub can use (not relay-limited). */
export function hasDirectConnection(node: Libp2p, peer: string): boolean {
  return node
    .getConnections()
    .some((c) => c.status === 'open' && c.limits === undefined && c.remotePeer.toString() === peer);
}
