/**
 * Multiaddr checks for the daemon's config, so that a bad `listen`, `bootstrap` or
 * `announce` entry is a config error (exit 2, `--check` catches it) instead of a libp2p
 * stack trace at start (exit 1, a restart loop under systemd).
 *
 * A small parser of the text form, on purpose: `@multiformats/multiaddr` pulls in
 * libp2p-family modules, and a config check must not load those
 * (test/cli/lazy-imports.test.ts). It knows the protocols a meshfl deployment uses.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Protocols followed by a value, and how the value is checked (undefined = fine). */
const WITH_VALUE: Record<string, (v: string) => string | undefined> = {
  ip4: (v) => (isIPv4(v) ? undefined : `invalid IPv4 address "${v}"`),
  ip6: (v) => (isIPv6(v) ? undefined : `invalid IPv6 address "${v}"`),
  dns: host,
  dns4: host,
  dns6: host,
  dnsaddr: host,
  tcp: port,
  udp: port,
  p2p: peerId,
  ipfs: peerId, // the old name of p2p
  certhash: (v) => (/^[A-Za-z0-9_-]+$/.test(v) ? undefined : `invalid certhash "${v}"`),
  sni: host,
};
const WITHOUT_VALUE = new Set([
  'ws',
  'wss',
  'tls',
  'http',
  'https',
  'quic',
  'quic-v1',
  'webtransport',
  'webrtc',
  'webrtc-direct',
  'p2p-circuit',
]);

function host(v: string): string | undefined {
  return /^[A-Za-z0-9.-]{1,253}$/.test(v) ? undefined : `invalid host name "${v}"`;
}

function port(v: string): string | undefined {
  return /^\d{1,5}$/.test(v) && Number(v) <= 65535 ? undefined : `invalid port "${v}"`;
}

/** base58btc multihash (Qm..., 12D3KooW..., 16Uiu2...) or a base32 CID (b...). */
function peerId(v: string): string | undefined {
  return /^[1-9A-HJ-NP-Za-km-z]{46,100}$/.test(v) || /^b[a-z2-7]{50,120}$/.test(v)
    ? undefined
    : `invalid peer id "${v}"`;
}

type Parsed = { readonly components: ReadonlyArray<{ name: string; value?: string }> } | { readonly problem: string };

export function parseMultiaddr(text: string): Parsed {
  const fail = (why: string): Parsed => ({ problem: `"${text}" is not a multiaddr (${why})` });
  if (!text.startsWith('/')) return fail('it must start with "/"');
  const parts = text.slice(1).split('/');
  const components: Array<{ name: string; value?: string }> = [];
  for (let i = 0; i < parts.length; i++) {
    const name = parts[i];
    if (name === '') return fail('empty component');
    const check = WITH_VALUE[name];
    if (check !== undefined) {
      const value = parts[++i];
      if (value === undefined || value === '') return fail(`${name} needs a value`);
      const problem = check(value);
      if (problem !== undefined) return fail(problem);
      components.push({ name, value });
    } else if (WITHOUT_VALUE.has(name)) {
      components.push({ name });
    } else {
      return fail(`unknown protocol "${name}"`);
    }
  }
  return { components };
}

/**
 * What this daemon's transports can listen on: `/ip4|ip6/<ip>/tcp/<port>`, the same with
 * `/ws`, and with `relay` `/ip4|ip6/<ip>/udp/<port>/webrtc-direct`. Undefined when fine,
 * else the problem.
 */
export function listenProblem(text: string, relay: boolean): string | undefined {
  const parsed = parseMultiaddr(text);
  if ('problem' in parsed) return parsed.problem;
  const names = parsed.components.map((c) => c.name);
  const [ip, proto, extra, ...rest] = names;
  const ipOk = ip === 'ip4' || ip === 'ip6';
  const tcp = proto === 'tcp' && (extra === undefined || extra === 'ws') && rest.length === 0;
  const webrtc = proto === 'udp' && extra === 'webrtc-direct' && rest.length === 0;
  if (ipOk && tcp) return undefined;
  if (ipOk && webrtc) return relay ? undefined : `"${text}": webrtc-direct listens only with relay: true`;
  return `"${text}": cannot listen there (use /ip4|ip6/<address>/tcp/<port>, optionally /ws, or /udp/<port>/webrtc-direct with relay)`;
}

/** A dialable multiaddr with /p2p/<peer id>. */
export function bootstrapProblem(text: string): string | undefined {
  const parsed = parseMultiaddr(text);
  if ('problem' in parsed) return parsed.problem;
  if (!parsed.components.some((c) => c.name === 'p2p' || c.name === 'ipfs')) return `"${text}" has no /p2p/<peer id>`;
  return undefined;
}

/** Any well-formed multiaddr (announced to browsers as is). */
export function announceProblem(text: string): string | undefined {
  const parsed = parseMultiaddr(text);
  return 'problem' in parsed ? parsed.problem : undefined;
}
