/**
 * The flags of a multi-process run (`meshfl simulate --shard i/n --listen <addr>
 * --bootstrap <addr,...>`), validated: every bad value is a UsageError (exit code 2)
 * naming the flag and showing a correct example.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { ShardSpec } from '../simulations/shard/slice.ts';
import { UsageError } from './errors.ts';

export function parseShardFlag(value: string): ShardSpec {
  const m = /^(\d{1,6})\/(\d{1,6})$/.exec(value.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index >= count)
    throw new UsageError(`--shard must be i/n with integers 0 <= i < n (e.g. 0/2 and 1/2), got "${value}"`);
  return { index, count };
}

function normalise(value: string, flag: string): string {
  try {
    return multiaddr(value.trim()).toString();
  } catch (err) {
    throw new UsageError(`${flag}: "${value}" is not a multiaddr (${(err as Error).message})`);
  }
}

export interface ListenAddress {
  /** The hub's address, e.g. /ip4/127.0.0.1/tcp/40001. */
  readonly hub: string;
  /** The simulation nodes' address: same host, a free port each. */
  readonly nodes: string;
}

/** `/ip4/<addr>/tcp/<port>` or `/ip6/<addr>/tcp/<port>` (a port the other shards can reach). */
export function parseListenFlag(value: string): ListenAddress {
  const hub = normalise(value, '--listen');
  const m = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)$/.exec(hub);
  if (!m)
    throw new UsageError(
      `--listen must be a TCP address like /ip4/127.0.0.1/tcp/40001 (or /ip4/<this machine's address>/tcp/<port>), got "${value}"`,
    );
  const host = m[2];
  if (host === '0.0.0.0' || /^[0:]+$/.test(host))
    throw new UsageError(
      `--listen: ${host} is not an address the other shards can reach (the simulation nodes listen on the same address and advertise it): ` +
        `give this machine's address, e.g. /ip4/127.0.0.1/tcp/40001 or /ip4/192.168.1.10/tcp/40001, got "${value}"`,
    );
  if (Number(m[3]) === 0 || Number(m[3]) > 65535)
    throw new UsageError(
      `--listen: the port must be a fixed port in 1-65535 (other shards bootstrap to it), e.g. /ip4/127.0.0.1/tcp/40001, got "${value}"`,
    );
  return { hub, nodes: `/${m[1]}/${host}/tcp/0` };
}

/** Comma-separated hub addresses: /ip4|ip6|dns4|dns6|dns/<host>/tcp/<port>, optionally ending in /p2p/<id>. */
export function parseBootstrapFlag(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    if (part.trim() === '') continue;
    const a = normalise(part, '--bootstrap');
    const m = /^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d+(?:\/p2p\/([^/]+))?$/.exec(a);
    if (!m)
      throw new UsageError(
        `--bootstrap: "${part}" must be a TCP address like /ip4/127.0.0.1/tcp/40001 (optionally ending in /p2p/<peer id>)`,
      );
    if (m[2] !== undefined) {
      try {
        peerIdFromString(m[2]);
      } catch {
        throw new UsageError(`--bootstrap: "${part}" ends in a malformed peer id`);
      }
    }
    out.push(a);
  }
  if (out.length === 0) throw new UsageError('--bootstrap: give at least one address (comma-separated)');
  return out;
}
