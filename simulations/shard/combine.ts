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
import type { ResultsFile } from '../report.ts';
import { type StrategyResult, strategyResult } from '../results.ts';
import type { PeerRound, StrategyRun } from '../runner.ts';
import { type Scenario, scenarioRecord } from '../scenario.ts';
import { isIndex, isObject } from './protocol.ts';

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

/** Same scenario -> same fingerprint, on every machine. */
export function scenarioFingerprint(scenario: Scenario): string {
  return createHash('sha256')
    .update(JSON.stringify(scenarioRecord(scenario)))
    .digest('hex')
    .slice(0, 16);
}

export function shardFileName(index: number, count: number): string {
  return `shard-${index}-of-${count}.json`;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function parseRecord(v: unknown, where: string): PeerRound {
  if (
    !isObject(v) ||
    !isIndex(v.peer) ||
    !isIndex(v.round) ||
    !isNumber(v.bytesSent) ||
    !isNumber(v.bytesReceived) ||
    !isNumber(v.candidates) ||
    !isNumber(v.atMs) ||
    !Array.isArray(v.mergedFrom)
  )
    throw new ShardDataError(`${where}: not a per-peer round record`);
  return v as unknown as PeerRound;
}

/** A StrategyRun read from JSON (a file or another shard), checked field by field. */
export function parseStrategyRun(v: unknown, where: string): StrategyRun {
  if (!isObject(v) || typeof v.label !== 'string' || !Array.isArray(v.records))
    throw new ShardDataError(`${where}: expected {label, records, ...}`);
  if (!Array.isArray(v.honestPeers) || !v.honestPeers.every(isIndex))
    throw new ShardDataError(`${where}.honestPeers: expected peer indices`);
  for (const key of ['elapsedMs', 'setupMs', 'errorCount', 'rejectedUpdates'] as const)
    if (!isNumber(v[key])) throw new ShardDataError(`${where}.${key}: expected a number`);
  if (typeof v.interrupted !== 'boolean') throw new ShardDataError(`${where}.interrupted: expected a boolean`);
  if (!Array.isArray(v.errors)) throw new ShardDataError(`${where}.errors: expected a list`);
  return {
    label: v.label,
    records: v.records.map((r, i) => parseRecord(r, `${where}.records[${i}]`)),
    honestPeers: v.honestPeers as number[],
    interrupted: v.interrupted,
    elapsedMs: v.elapsedMs as number,
    setupMs: v.setupMs as number,
    errors: v.errors.map(String),
    errorCount: v.errorCount as number,
    rejectedUpdates: v.rejectedUpdates as number,
  };
}

export function parseShardFile(v: unknown, where: string): ShardFile {
  if (!isObject(v) || v.format !== SHARD_FILE_FORMAT)
    throw new ShardDataError(`${where}: not a ${SHARD_FILE_FORMAT} file`);
  const s = v.shard;
  if (!isObject(s) || !isIndex(s.index) || !isIndex(s.count) || s.index >= s.count || !Array.isArray(s.peers))
    throw new ShardDataError(`${where}.shard: expected {index, count, peers}`);
  if (typeof v.fingerprint !== 'string' || !isObject(v.scenario) || !isObject(v.environment))
    throw new ShardDataError(`${where}: missing fingerprint, scenario or environment`);
  if (!isObject(v.strategies)) throw new ShardDataError(`${where}.strategies: expected an object`);
  const strategies: Record<string, StrategyRun> = {};
  for (const [label, run] of Object.entries(v.strategies))
    strategies[label] = parseStrategyRun(run, `${where}.strategies.${label}`);
  return {
    format: SHARD_FILE_FORMAT,
    fingerprint: v.fingerprint,
    scenario: v.scenario,
    shard: { index: s.index, count: s.count, peers: s.peers.filter(isIndex) },
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
    strategies[label] = strategyResult(mergeRuns(runs as StrategyRun[]));
  }
  const environment = {
    ...(ordered[0] as ShardFile).environment,
    shards: ordered.map((f) => ({
      index: f.shard.index,
      peers: f.shard.peers,
      host: f.environment.host,
      node: f.environment.node,
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
