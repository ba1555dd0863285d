/**
 * Multiaddr checks for the daemon's config, so that a bad `listen`, `bootstrap` or
 * `announce` entry is a config error (exit 2, `--check` catches it) instead of a libp2p
 * stack trace at start (exit 1, a restart loop under systemd).
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';

function parse(text: string): Multiaddr | string {
  try {
    return multiaddr(text);
  } catch (err) {
    return `"${text}" is not a multiaddr (${err instanceof Error ? err.message : String(err)})`;
  }
}

/**
 * What this daemon's transports can listen on: `/ip4|ip6/<ip>/tcp/<port>`, the same with
 * `/ws`, and with `relay` `/ip4|ip6/<ip>/udp/<port>/webrtc-direct`. Undefined when fine,
 * else the problem.
 */
export function listenProblem(text: string, relay: boolean): string | undefined {
  const ma = parse(text);
  if (typeof ma === 'string') return ma;
  const names = ma.getComponents().map((c) => c.name);
  const [ip, proto, extra, ...rest] = names;
  const ipOk = ip === 'ip4' || ip === 'ip6';
  const tcp = proto === 'tcp' && (extra === undefined || extra === 'ws') && rest.length === 0;
  const webrtc = proto === 'udp' && extra === 'webrtc-direct' && rest.length === 0;
  if (ipOk && tcp) return undefined;
  if (ipOk && webrtc) return relay ? undefined : `"${text}": webrtc-direct listens only with relay: true`;
  return `"${text}": cannot listen there (use /ip4|ip6/<address>/tcp/<port>, optionally /ws, or /udp/<port>/webrtc-direct with relay)`;
}

/** A dialable multiaddr ending in /p2p/<peer id>. */
export function bootstrapProblem(text: string): string | undefined {
  const ma = parse(text);
  if (typeof ma === 'string') return ma;
  const p2p = ma.getComponents().find((c) => c.name === 'p2p');
  if (p2p?.value === undefined) return `"${text}" has no /p2p/<peer id>`;
  try {
    peerIdFromString(p2p.value);
  } catch (err) {
    return `"${text}": bad peer id (${err instanceof Error ? err.message : String(err)})`;
  }
  return undefined;
}

/** Any well-formed multiaddr (announced to browsers as is). */
export function announceProblem(text: string): string | undefined {
  const ma = parse(text);
  return typeof ma === 'string' ? ma : undefined;
}
