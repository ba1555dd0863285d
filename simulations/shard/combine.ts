/**
 * Shard outputs and their merge. Each shard process writes `shard-<i>-of-<n>.json` (its
 * peers' per-round records for every strategy it ran); the combined report is the same
 * results.json (and CSVs, plots) a single-process run writes, computed from the records
 * of all shards together. Shard 0 combines over the network at the end of each strategy;
 * `meshfl simulate --combine` does the same from files.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { AccuracySnapshot } from '../../src/peer/events.ts';
import type { ResultsFile } from '../report.ts';
import { type StrategyResult, strategyResult } from '../results.ts';
import type { PeerRound, StrategyRun } from '../runner.ts';
import { isRecord, type Scenario, scenarioRecord } from '../scenario.ts';
import { isIndex } from './protocol.ts';
import { shardPeers } from './slice.ts';

export const SHARD_FILE_FORMAT = 'meshfl-shard/1';
/** Errors kept in a combined strategy result (as in one process). */
const MAX_KEPT_ERRORS = 20;

export interface ShardFile {
  readonly format: typeof SHARD_FILE_FORMAT;
  readonly fingerprint: string;
  readonly scenario: Record<string, unknown>;
  readonly shard: { readonly index: number; readonly count: number; readonly peers: readonly number[] };
  readonly environment: Record<string, unknown>;
  readonly interrupted: boolean;
  /** Strategy label -> this shard's run of it, in the scenario's order. */
  readonly strategies: Record<string, StrategyRun>;
}

/** A shard file or records message that does not fit. */
export class ShardDataError extends Error {
  override readonly name = 'ShardDataError';
}

/**
 * Scenario keys that only say how this process executes the run, not what is simulated:
 * left out of the fingerprint, so machines may differ in them (e.g. `--workers`).
 */
export const EXECUTION_ONLY_KEYS: readonly string[] = ['workers'];

/** Same scenario -> same fingerprint, on every machine (execution-only keys aside). */
export function scenarioFingerprint(scenario: Scenario): string {
  const record = { ...scenarioRecord(scenario) };
  for (const key of EXECUTION_ONLY_KEYS) delete record[key];
  return createHash('sha256').update(JSON.stringify(record)).digest('hex').slice(0, 16);
}

export function shardFileName(index: number, count: number): string {
  return `shard-${index}-of-${count}.json`;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isShare = (v: unknown): v is number => isNumber(v) && v >= 0 && v <= 1;
const CLOSED_BY: readonly unknown[] = ['enough-updates', 'deadline', 'stopped'] satisfies PeerRound['closedBy'][];

/** An accuracy snapshot (or its absence: undefined, written as a missing key, or null). */
function parseSnapshot(v: unknown, where: string): AccuracySnapshot | undefined {
  if (v === undefined || v === null) return undefined;
  const isShareList = (l: unknown): l is number[] => Array.isArray(l) && l.every(isShare);
  // A diverged loss (NaN, infinite) is written to JSON as null, as in one process.
  if (
    !isRecord(v) ||
    !isShare(v.overall) ||
    !(isNumber(v.loss) || v.loss === null) ||
    !isShareList(v.perClass) ||
    !isShareList(v.f1)
  )
    throw new ShardDataError(
      `${where}: expected {overall, loss, perClass, f1} with accuracies in [0, 1] and a finite (or null) loss`,
    );
  return { overall: v.overall, loss: v.loss ?? Number.NaN, perClass: v.perClass, f1: v.f1 };
}

/** A merge share (finite; float sums may stray just outside [0, 1]), or undefined (a missing key or null). */
function parseShare(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isNumber(v)) throw new ShardDataError(`${where}: expected a finite number or null, got ${JSON.stringify(v)}`);
  return v;
}

function parseRecord(v: unknown, where: string): PeerRound {
  if (!isRecord(v)) throw new ShardDataError(`${where}: not a per-peer round record`);
  if (!isIndex(v.peer) || !isIndex(v.round))
    throw new ShardDataError(`${where}: peer and round must be non-negative integers`);
  for (const key of ['bytesSent', 'bytesReceived', 'candidates', 'atMs'] as const)
    if (!isNumber(v[key]) || v[key] < 0)
      throw new ShardDataError(`${where}.${key}: expected a finite non-negative number`);
  if (!Array.isArray(v.mergedFrom) || !v.mergedFrom.every((p) => p === -1 || isIndex(p)))
    throw new ShardDataError(`${where}.mergedFrom: expected peer indices (or -1)`);
  if (!CLOSED_BY.includes(v.closedBy))
    throw new ShardDataError(`${where}.closedBy: expected one of ${CLOSED_BY.join(', ')}`);
  const steps = v.stepsClosedBy;
  if (steps !== undefined && !(Array.isArray(steps) && steps.every((c) => CLOSED_BY.includes(c))))
    throw new ShardDataError(`${where}.stepsClosedBy: expected a list of ${CLOSED_BY.join(', ')}`);
  return {
    peer: v.peer,
    round: v.round,
    merged: parseSnapshot(v.merged, `${where}.merged`),
    local: parseSnapshot(v.local, `${where}.local`),
    bytesSent: v.bytesSent as number,
    bytesReceived: v.bytesReceived as number,
    candidates: v.candidates as number,
    ownShare: parseShare(v.ownShare, `${where}.ownShare`),
    byzantineShare: parseShare(v.byzantineShare, `${where}.byzantineShare`),
    mergedFrom: v.mergedFrom as number[],
    closedBy: v.closedBy as PeerRound['closedBy'],
    ...(steps === undefined ? {} : { stepsClosedBy: steps as PeerRound['closedBy'][] }),
    atMs: v.atMs as number,
  };
}

/**
 * A StrategyRun read from JSON (a file or another shard), checked field by field. With
 * `peers` (the shard's slice), every record and honest peer must be one of them.
 */
export function parseStrategyRun(v: unknown, where: string, peers?: readonly number[]): StrategyRun {
  if (!isRecord(v) || typeof v.label !== 'string' || !Array.isArray(v.records))
    throw new ShardDataError(`${where}: expected {label, records, ...}`);
  if (!Array.isArray(v.honestPeers) || !v.honestPeers.every(isIndex))
    throw new ShardDataError(`${where}.honestPeers: expected peer indices`);
  for (const key of ['elapsedMs', 'setupMs', 'errorCount', 'rejectedUpdates'] as const)
    if (!isNumber(v[key]) || v[key] < 0) throw new ShardDataError(`${where}.${key}: expected a non-negative number`);
  if (typeof v.interrupted !== 'boolean') throw new ShardDataError(`${where}.interrupted: expected a boolean`);
  if (!Array.isArray(v.errors)) throw new ShardDataError(`${where}.errors: expected a list`);
  const records = v.records.map((r, i) => parseRecord(r, `${where}.records[${i}]`));
  const honestPeers = v.honestPeers;
  const slice = peers === undefined ? undefined : new Set(peers);
  const describe = (): string => `${peers?.[0]}-${peers?.at(-1)}`;
  if (slice !== undefined)
    for (const p of honestPeers)
      if (!slice.has(p))
        throw new ShardDataError(`${where}.honestPeers: peer ${p} is not in this shard (${describe()})`);
  const seen = new Set<string>();
  for (const [i, r] of records.entries()) {
    if (slice !== undefined && !slice.has(r.peer))
      throw new ShardDataError(`${where}.records[${i}]: peer ${r.peer} is not in this shard (${describe()})`);
    const key = `${r.peer}/${r.round}`;
    if (seen.has(key))
      throw new ShardDataError(`${where}.records[${i}]: peer ${r.peer}'s round ${r.round} given twice`);
    seen.add(key);
  }
  return {
    label: v.label,
    records,
    honestPeers,
    interrupted: v.interrupted,
    elapsedMs: v.elapsedMs as number,
    setupMs: v.setupMs as number,
    errors: v.errors.map(String),
    errorCount: v.errorCount as number,
    rejectedUpdates: v.rejectedUpdates as number,
  };
}

export function parseShardFile(v: unknown, where: string): ShardFile {
  if (!isRecord(v) || v.format !== SHARD_FILE_FORMAT)
    throw new ShardDataError(`${where}: not a ${SHARD_FILE_FORMAT} file`);
  const s = v.shard;
  if (!isRecord(s) || !isIndex(s.index) || !isIndex(s.count) || s.index >= s.count || !Array.isArray(s.peers))
    throw new ShardDataError(`${where}.shard: expected {index, count, peers} with index < count`);
  if (typeof v.fingerprint !== 'string' || !isRecord(v.scenario) || !isRecord(v.environment))
    throw new ShardDataError(`${where}: missing fingerprint, scenario or environment`);
  const total = v.scenario.peers;
  if (!isIndex(total) || total < s.count)
    throw new ShardDataError(`${where}.scenario.peers: expected an integer >= the ${s.count} shards`);
  const expected = shardPeers(total, { index: s.index, count: s.count });
  if (s.peers.length !== expected.length || s.peers.some((p, i) => p !== expected[i]))
    throw new ShardDataError(
      `${where}.shard.peers: shard ${s.index}/${s.count} of ${total} peers runs peers ${expected[0]}-${expected.at(-1)}, ` +
        `the file lists ${JSON.stringify(s.peers).slice(0, 80)}`,
    );
  if (!isRecord(v.strategies)) throw new ShardDataError(`${where}.strategies: expected an object`);
  const strategies: Record<string, StrategyRun> = {};
  for (const [label, run] of Object.entries(v.strategies)) {
    const parsed = parseStrategyRun(run, `${where}.strategies.${label}`, expected);
    if (parsed.label !== label)
      throw new ShardDataError(`${where}.strategies.${label}: its label is "${parsed.label}"`);
    strategies[label] = parsed;
  }
  return {
    format: SHARD_FILE_FORMAT,
    fingerprint: v.fingerprint,
    scenario: v.scenario,
    shard: { index: s.index, count: s.count, peers: expected },
    environment: v.environment,
    interrupted: v.interrupted === true,
    strategies,
  };
}

/** One strategy's runs of every shard as one run (what one process would have recorded). */
export function mergeRuns(runs: readonly StrategyRun[]): StrategyRun {
  const first = runs[0];
  if (first === undefined) throw new ShardDataError('no runs to merge');
  return {
    label: first.label,
    records: runs.flatMap((r) => r.records),
    honestPeers: runs.flatMap((r) => r.honestPeers).sort((a, b) => a - b),
    interrupted: runs.some((r) => r.interrupted),
    // Each shard's clock from its own start of the strategy: the slowest shard's.
    elapsedMs: Math.max(...runs.map((r) => r.elapsedMs)),
    setupMs: Math.max(...runs.map((r) => r.setupMs)),
    errors: runs.flatMap((r) => r.errors).slice(0, MAX_KEPT_ERRORS),
    errorCount: runs.reduce((a, r) => a + r.errorCount, 0),
    rejectedUpdates: runs.reduce((a, r) => a + r.rejectedUpdates, 0),
  };
}

/**
 * The combined results of shards 0..n-1 (all must be present, of one scenario). A strategy
 * appears once every shard has run it; if any shard is missing one, the result says
 * `interrupted`.
 */
export function combineShards(files: readonly ShardFile[]): ResultsFile {
  const first = files[0];
  if (first === undefined) throw new ShardDataError('no shard outputs given');
  const count = first.shard.count;
  const byIndex = new Map<number, ShardFile>();
  for (const f of files) {
    if (f.fingerprint !== first.fingerprint || f.shard.count !== count)
      throw new ShardDataError(
        `shard ${f.shard.index}/${f.shard.count} is of another run (scenario ${f.fingerprint}, expected ${first.fingerprint} with ${count} shards)`,
      );
    if (byIndex.has(f.shard.index)) throw new ShardDataError(`shard ${f.shard.index} given twice`);
    if (f.scenario.peers !== first.scenario.peers)
      throw new ShardDataError(
        `shard ${f.shard.index} has ${String(f.scenario.peers)} peers in its scenario, shard ${first.shard.index} ${String(first.scenario.peers)}`,
      );
    byIndex.set(f.shard.index, f);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) throw new ShardDataError(`missing the output of shard(s) ${missing.join(', ')} of ${count}`);
  const ordered = [...byIndex.keys()].sort((a, b) => a - b).map((i) => byIndex.get(i) as ShardFile);
  const strategies: Record<string, StrategyResult> = {};
  let incomplete = false;
  for (const label of Object.keys(first.strategies)) {
    const runs = ordered.map((f) => f.strategies[label]);
    if (runs.some((r) => r === undefined)) {
      incomplete = true;
      continue;
    }
    strategies[label] = strategyResult(mergeRuns(runs));
  }
  const environment = {
    ...ordered[0].environment,
    shards: ordered.map((f) => ({
      index: f.shard.index,
      peers: f.shard.peers,
      host: f.environment.host,
      node: f.environment.node,
      // Shards on different machines may run different checkouts: each names its own.
      commit: f.environment.commit,
      dirty: f.environment.dirty,
      cpus: f.environment.cpus,
      loadAverage: f.environment.loadAverage,
      startedAt: f.environment.startedAt,
    })),
  };
  delete (environment as Record<string, unknown>).host;
  return {
    scenario: first.scenario,
    environment,
    interrupted: incomplete || ordered.some((f) => f.interrupted),
    strategies,
  };
}

/** Shard files from a list of files and directories (a directory: every shard-*-of-*.json in it). */
export function readShardFiles(paths: readonly string[]): ShardFile[] {
  const files: string[] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      throw new ShardDataError(`cannot read ${p}`);
    }
    if (!isDir) files.push(p);
    else
      for (const name of readdirSync(p).sort())
        if (/^shard-\d+-of-\d+\.json$/.test(name)) files.push(path.join(p, name));
  }
  if (files.length === 0) throw new ShardDataError(`no shard-<i>-of-<n>.json files in ${paths.join(', ')}`);
  return files.map((f) => {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(f, 'utf8'));
    } catch (err) {
      throw new ShardDataError(`${f}: not readable JSON (${(err as Error).message})`);
    }
    return parseShardFile(raw, f);
  });
}
