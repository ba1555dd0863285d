/**
 * One shard process of a scenario spread over several processes or machines: the same
 * setup as everyone (same seed -> same split, attackers, topology), but only this shard's
 * slice of the peers runs here, over TCP, linked to the other shards' peers through the
 * hubs. Strategies run in turn, all shards together (barriers in `network.ts`).
 *
 * Outputs: every shard writes `shard-<i>-of-<n>.json` (its peers' records) after each
 * strategy; shard 0 also fetches the other shards' files over the network and writes the
 * combined report (results.json, CSVs, plots), as one process would.
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ResultsFile, writeAtomic, writeReport } from '../report.ts';
import { runStrategy, type StrategyRun } from '../runner.ts';
import { type Scenario, scenarioRecord } from '../scenario.ts';
import { buildSetup } from '../setup.ts';
import { runEnvironment, type SimulateHooks, type SimulateResult } from '../simulate.ts';
import {
  combineShards,
  parseShardFile,
  SHARD_FILE_FORMAT,
  type ShardFile,
  scenarioFingerprint,
  shardFileName,
} from './combine.ts';
import { Hub, RECORDS_FETCH_TIMEOUT_MS } from './hub.ts';
import { createShardNetwork } from './network.ts';
import { type ShardSpec, shardOfPeer, shardPeers } from './slice.ts';

/** Shard 0: time for the other shards' records of a strategy to be ready and fetched. */
const COLLECT_TIMEOUT_MS = RECORDS_FETCH_TIMEOUT_MS;
/** Pause between two records requests while a shard is still wrapping up the strategy. */
const COLLECT_RETRY_MS = 500;
/** Other shards: time for shard 0 to collect the last strategy's records before we leave. */
const FINAL_COLLECT_TIMEOUT_MS = 120_000;
/** Shard 0: time for the other shards to see it collected everything and disconnect. */
const FINAL_DEPARTURE_TIMEOUT_MS = 30_000;
/**
 * After an interruption or failure the hub stays up until every known shard has reported
 * "aborted" too or disconnected (so they see our state), at most this long.
 */
const ABORT_LINGER_MAX_MS = 30_000;

export interface ShardOptions {
  readonly shard: ShardSpec;
  /** The hub's listen address (--listen). */
  readonly listen: string;
  /** Listen address of this shard's simulation nodes (same host, port 0). */
  readonly nodeListen: string;
  /** Other hubs' addresses (--bootstrap). */
  readonly bootstrap: readonly string[];
  readonly log: (line: string) => void;
}

export interface ShardResult extends SimulateResult {
  /** The shard file this process wrote. */
  readonly shardFile: string;
  /** Whether `results` is the combined report of every shard (shard 0), or this shard's own peers only. */
  readonly combined: boolean;
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    if (signal.aborted) done();
  });

export async function simulateShard(
  scenario: Scenario,
  outDir: string,
  backend: string,
  hooks: SimulateHooks,
  options: ShardOptions,
): Promise<ShardResult> {
  const { shard, log } = options;
  const fingerprint = scenarioFingerprint(scenario);
  const stopHere = new AbortController();
  const signal = hooks.signal ? AbortSignal.any([hooks.signal, stopHere.signal]) : stopHere.signal;
  const runs: StrategyRun[] = [];
  let own: ShardFile | undefined;
  const hub = await Hub.start({
    shard: shard.index,
    shards: shard.count,
    scenario: fingerprint,
    listen: options.listen,
    bootstrap: options.bootstrap,
    records: (strategy) => {
      const run = runs[strategy];
      if (own === undefined || run === undefined)
        throw new Error(`strategy ${strategy} not finished on shard ${shard.index} yet`);
      // Only the strategy asked for: shard 0 keeps what it collected before.
      return { ...own, strategies: { [run.label]: run } };
    },
    log,
    onAbortedElsewhere: (other) => {
      if (signal.aborted) return; // already stopping (this shard's abort is what the other one echoes)
      log(`shard ${other} stopped its run: stopping here too and writing what was measured`);
      stopHere.abort();
    },
  });
  log(`shard ${shard.index}/${shard.count}: hub listening on ${hub.addresses().join(' ')}`);
  const shardPath = path.join(outDir, shardFileName(shard.index, shard.count));
  let results: ResultsFile | undefined;
  let files: string[] = [];
  let interrupted = false;
  /** Shard 0: the other shards' records collected so far (shard index -> its strategies). */
  const gathered = new Map<number, ShardFile>();
  try {
    const setup = buildSetup(scenario);
    hooks.onSetup?.(setup);
    const peers = scenario.peers;
    const local = shardPeers(peers, shard);
    log(`shard ${shard.index}/${shard.count}: runs peers ${local[0]}-${local.at(-1)} of 0-${peers - 1}`);
    const environment = { ...runEnvironment(setup, backend), host: os.hostname() };
    const writeOwn = (): void => {
      own = {
        format: SHARD_FILE_FORMAT,
        fingerprint,
        scenario: scenarioRecord(scenario),
        shard: { index: shard.index, count: shard.count, peers: local },
        environment,
        interrupted,
        strategies: Object.fromEntries(runs.map((r) => [r.label, r])),
      };
      mkdirSync(outDir, { recursive: true });
      writeAtomic(shardPath, `${JSON.stringify(own)}\n`);
    };
    for (const [index, entry] of scenario.strategies.entries()) {
      if (signal.aborted) {
        interrupted = true;
        break;
      }
      hooks.onStrategy?.(index, entry.label);
      const run = await runStrategy(
        setup,
        entry,
        { signal, onRound: (r) => hooks.onRound?.(index, entry.label, r) },
        {
          local: new Set(local),
          createNetwork: () =>
            createShardNetwork({
              hub,
              strategy: index,
              local: local.filter((p) => setup.peers[p]?.joinRound === 0),
              peers,
              shardOf: (p) => shardOfPeer(peers, shard.count, p),
              topology: scenario.topology,
              listen: options.nodeListen,
              signal,
              log,
            }),
        },
      );
      runs[index] = run;
      interrupted = run.interrupted;
      writeOwn();
      files = [shardPath];
      if (interrupted) break;
      if (shard.index === 0) {
        const fresh = await collect(hub, shard, index, entry.label, signal);
        if (fresh === undefined) {
          interrupted = true; // Ctrl-C here, or another shard stopped, while collecting
          break;
        }
        // Each answer holds one strategy: add it to what each shard gave before.
        for (const f of fresh) {
          const before = gathered.get(f.shard.index);
          gathered.set(f.shard.index, before ? { ...f, strategies: { ...before.strategies, ...f.strategies } } : f);
        }
        results = combineShards([own as ShardFile, ...gathered.values()]);
        files = [shardPath, ...writeReport(outDir, results)];
        hub.update({ collected: index + 1 });
        log(`strategy ${entry.label}: combined the records of ${shard.count} shards`);
      }
      hooks.onWritten?.(files);
    }
    if (!interrupted && shard.index === 0) {
      // Everything is collected; Ctrl-C only shortens the wait for the others to leave.
      await hub
        .waitFor('final', () => stillConnected(hub, shard), FINAL_DEPARTURE_TIMEOUT_MS, signal)
        .catch((err: unknown) => log(`not every shard said goodbye (${(err as Error).message}); results are complete`));
    } else if (!interrupted) {
      try {
        await hub.waitFor(
          'handing over records',
          () =>
            (hub.others().find((o) => o.shard === 0)?.collected ?? 0) >= runs.length
              ? null
              : 'shard 0 to collect our records',
          FINAL_COLLECT_TIMEOUT_MS,
          signal,
        );
      } catch (err) {
        if (!signal.aborted) throw err;
        interrupted = true; // Ctrl-C (or shard 0 stopped) before shard 0 had our records
      }
    }
    writeOwn();
    if (interrupted) {
      if (results !== undefined) {
        // Shard 0: the combined report keeps the strategies every shard finished, marked interrupted.
        results = { ...results, interrupted: true };
        files = [shardPath, ...writeReport(outDir, results)];
      }
      hub.update({ aborted: true });
      await linger(hub, log);
    }
  } catch (err) {
    hub.update({ aborted: true });
    await linger(hub, log);
    throw err;
  } finally {
    await hub.stop();
  }
  // Shards other than 0 (or an interrupted shard 0) report their own peers only.
  const combined = results !== undefined && !interrupted;
  if (!combined) {
    const alone = combineAlone(own);
    if (alone) results = alone;
  }
  return {
    results: results ?? { scenario: scenarioRecord(scenario), environment: {}, interrupted, strategies: {} },
    files,
    shardFile: shardPath,
    combined,
  };
}

/** This shard's own peers as a results file (for its summary lines), without writing it. */
function combineAlone(own: ShardFile | undefined): ResultsFile | undefined {
  if (own === undefined) return undefined;
  const single: ShardFile = { ...own, shard: { ...own.shard, index: 0, count: 1 } };
  return combineShards([single]);
}

/**
 * After this shard marked itself aborted: wait until every known shard has reported
 * "aborted" too or disconnected, at most `ABORT_LINGER_MAX_MS`.
 */
async function linger(hub: Hub, log: (line: string) => void): Promise<void> {
  const pending = (): string | null => {
    const connected = new Set(hub.gossip.node.getPeers().map((p) => p.toString()));
    const left = hub
      .others()
      .filter((o) => !o.aborted && connected.has(hub.peerIdOf(o.shard) ?? ''))
      .map((o) => o.shard);
    return left.length === 0 ? null : `shard(s) ${left.join(', ')} to see that this one stopped`;
  };
  await hub
    .waitFor('stopping', pending, ABORT_LINGER_MAX_MS, undefined, { othersAborted: 'ignore' })
    .catch((err: unknown) => log(`leaving without every shard's acknowledgement (${(err as Error).message})`));
}

/** Shard 0: hubs of other shards still connected (they leave once they saw `collected`). */
function stillConnected(hub: Hub, shard: ShardSpec): string | null {
  const connected = new Set(hub.gossip.node.getPeers().map((p) => p.toString()));
  const left: number[] = [];
  for (let s = 1; s < shard.count; s++) {
    const id = hub.peerIdOf(s);
    if (id !== undefined && connected.has(id)) left.push(s);
  }
  return left.length === 0 ? null : `shard(s) ${left.join(', ')} to leave`;
}

/**
 * Shard 0: every other shard's records of strategy `index`, once it has them; undefined
 * when `signal` aborts meanwhile (Ctrl-C, or another shard stopped).
 */
async function collect(
  hub: Hub,
  shard: ShardSpec,
  index: number,
  label: string,
  signal: AbortSignal,
): Promise<ShardFile[] | undefined> {
  const out: ShardFile[] = [];
  for (let s = 1; s < shard.count; s++) {
    const deadline = performance.now() + COLLECT_TIMEOUT_MS;
    for (;;) {
      if (signal.aborted) return undefined;
      try {
        const file = parseShardFile(await hub.fetchRecords(s, index), `records of shard ${s}`);
        if (file.shard.index !== s) throw new Error(`shard ${s}'s hub sent the records of shard ${file.shard.index}`);
        if (file.strategies[label] === undefined)
          throw new Error(`shard ${s}'s hub did not send the records of strategy ${label}`);
        out.push(file);
        break;
      } catch (err) {
        if (signal.aborted) return undefined;
        if (performance.now() > deadline)
          throw new Error(
            `could not collect strategy ${index}'s records from shard ${s} in ${COLLECT_TIMEOUT_MS} ms: ${(err as Error).message}`,
          );
        await sleep(COLLECT_RETRY_MS, signal);
      }
    }
  }
  return out;
}
