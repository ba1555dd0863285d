/**
 * What shard processes of one scenario tell each other: each process's hub serves its
 * current state (where it is in the run, the addresses of its simulation nodes, the hubs
 * it knows) and, once a strategy is done, its per-peer records. Everything read from the
 * network is validated here before use.
 */

import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { isRecord } from '../scenario.ts';

/** Protocol ids served by every hub (request/response over libp2p streams). */
export const SHARD_STATE_PROTOCOL = '/meshfl/1/shard/state';
export const SHARD_RECORDS_PROTOCOL = '/meshfl/1/shard/records';

/** Largest state message accepted (a roster of a few thousand peers' addresses). */
export const MAX_STATE_BYTES = 8 * 1024 * 1024;
/**
 * Largest records answer accepted (one strategy of one shard: about 0.5 KB per peer and
 * round, so a thousand peers over two hundred rounds).
 */
export const MAX_RECORDS_BYTES = 256 * 1024 * 1024;

/**
 * Where a shard is in one strategy, in order: its nodes are up and listed in the roster;
 * its nodes are connected to all their topology neighbours; its peers ran every round.
 */
export const PHASES = ['roster', 'ready', 'done'] as const;
export type Phase = (typeof PHASES)[number];

export interface Progress {
  /** Index of the strategy among the scenario's strategies. */
  readonly strategy: number;
  readonly phase: Phase;
}

/** One simulation node of a shard: its libp2p peer id and listen addresses. */
export interface RosterEntry {
  readonly id: string;
  readonly addrs: readonly string[];
}

export interface ShardState {
  readonly shard: number;
  readonly shards: number;
  /** Fingerprint of the parsed scenario: shards of different scenarios refuse each other. */
  readonly scenario: string;
  /** Addresses (with /p2p/) of every hub this one knows, itself included. */
  readonly hubs: readonly string[];
  /** null until the first strategy's nodes are up. */
  readonly progress: Progress | null;
  /** Peer index -> node of this shard, for `progress.strategy`. */
  readonly roster: Readonly<Record<string, RosterEntry>>;
  /** Shard 0 only: how many strategies' records it has collected from every shard. */
  readonly collected: number;
  /** The run was interrupted (Ctrl-C) or failed: other shards stop too. */
  readonly aborted: boolean;
}

/** A message from another shard that does not parse. */
export class ShardProtocolError extends Error {
  override readonly name = 'ShardProtocolError';
}

/** -1, 0, 1 as progress `a` is behind, at, or past `b`. */
export function compareProgress(a: Progress | null, b: Progress): number {
  if (a === null) return -1;
  if (a.strategy !== b.strategy) return a.strategy < b.strategy ? -1 : 1;
  return Math.sign(PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase));
}

export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new ShardProtocolError(`${what}: not JSON (${(err as Error).message})`);
  }
}

const isIndex = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** Longest peer index key accepted (MAX_PEERS is 10 000). */
const MAX_INDEX_DIGITS = 6;

export function parseRoster(v: unknown): Record<string, RosterEntry> {
  if (!isRecord(v)) throw new ShardProtocolError('state.roster: not an object');
  const out: Record<string, RosterEntry> = {};
  for (const [key, entry] of Object.entries(v)) {
    if (!/^(0|[1-9]\d*)$/.test(key) || key.length > MAX_INDEX_DIGITS)
      throw new ShardProtocolError(`state.roster: bad peer index "${key.slice(0, 20)}"`);
    if (!isRecord(entry) || typeof entry.id !== 'string' || !isStringList(entry.addrs) || entry.addrs.length === 0)
      throw new ShardProtocolError(`state.roster[${key}]: expected {id, addrs} with at least one address`);
    try {
      peerIdFromString(entry.id);
    } catch (err) {
      throw new ShardProtocolError(
        `state.roster[${key}].id: "${entry.id.slice(0, 80)}" is not a peer id (${(err as Error).message})`,
      );
    }
    for (const [i, a] of entry.addrs.entries()) {
      try {
        multiaddr(a);
      } catch (err) {
        throw new ShardProtocolError(
          `state.roster[${key}].addrs[${i}]: "${a.slice(0, 120)}" is not a multiaddr (${(err as Error).message})`,
        );
      }
    }
    out[key] = { id: entry.id, addrs: entry.addrs };
  }
  return out;
}

function parseProgress(v: unknown): Progress | null {
  if (v === null) return null;
  if (!isRecord(v) || !isIndex(v.strategy) || !PHASES.includes(v.phase as Phase))
    throw new ShardProtocolError('state.progress: expected {strategy, phase}');
  return { strategy: v.strategy, phase: v.phase as Phase };
}

export function decodeState(bytes: Uint8Array): ShardState {
  const v = parseJson(bytes, 'shard state');
  if (!isRecord(v)) throw new ShardProtocolError('shard state: not an object');
  if (!isIndex(v.shard) || !isIndex(v.shards) || v.shard >= v.shards)
    throw new ShardProtocolError('shard state: bad shard/shards');
  if (typeof v.scenario !== 'string') throw new ShardProtocolError('shard state: missing scenario');
  if (!isStringList(v.hubs)) throw new ShardProtocolError('shard state: hubs must be a list of addresses');
  if (!isIndex(v.collected) || typeof v.aborted !== 'boolean')
    throw new ShardProtocolError('shard state: bad collected/aborted');
  return {
    shard: v.shard,
    shards: v.shards,
    scenario: v.scenario,
    hubs: v.hubs,
    progress: parseProgress(v.progress),
    roster: parseRoster(v.roster),
    collected: v.collected,
    aborted: v.aborted,
  };
}

/** Request for one strategy's records. */
export function decodeRecordsRequest(bytes: Uint8Array): number {
  const v = parseJson(bytes, 'records request');
  if (!isRecord(v) || !isIndex(v.strategy)) throw new ShardProtocolError('records request: expected {strategy}');
  return v.strategy;
}

export { isIndex, parseJson };
