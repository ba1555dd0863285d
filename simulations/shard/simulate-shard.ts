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
/** After an interruption or failure: hub stays up this long so the others see the "aborted" state. */
const ABORT_LINGER_MS = 3_000;

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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

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
      if (own === undefined || runs[strategy] === undefined)
        throw new Error(`strategy ${strategy} not finished on shard ${shard.index} yet`);
      return own;
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
        results = combineShards([own as ShardFile, ...(await collect(hub, shard, index, signal))]);
        files = [shardPath, ...writeReport(outDir, results)];
        hub.update({ collected: index + 1 });
        log(`strategy ${entry.label}: combined the records of ${shard.count} shards`);
      }
      hooks.onWritten?.(files);
    }
    writeOwn();
    if (interrupted) {
      if (results !== undefined) {
        // Shard 0: the combined report keeps the strategies every shard finished, marked interrupted.
        results = { ...results, interrupted: true };
        files = [shardPath, ...writeReport(outDir, results)];
      }
      hub.update({ aborted: true });
      await sleep(ABORT_LINGER_MS);
    } else if (shard.index === 0) {
      await hub
        .waitFor('final', () => stillConnected(hub, shard), FINAL_DEPARTURE_TIMEOUT_MS, undefined)
        .catch((err: unknown) => log(`not every shard said goodbye (${(err as Error).message}); results are complete`));
    } else {
      await hub.waitFor(
        'handing over records',
        () =>
          (hub.others().find((o) => o.shard === 0)?.collected ?? 0) >= runs.length
            ? null
            : 'shard 0 to collect our records',
        FINAL_COLLECT_TIMEOUT_MS,
        undefined,
      );
    }
  } catch (err) {
    hub.update({ aborted: true });
    await sleep(ABORT_LINGER_MS);
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

/** Shard 0: every other shard's file, once it has recorded strategy `index`. */
async function collect(hub: Hub, shard: ShardSpec, index: number, signal: AbortSignal): Promise<ShardFile[]> {
  const out: ShardFile[] = [];
  for (let s = 1; s < shard.count; s++) {
    const deadline = performance.now() + COLLECT_TIMEOUT_MS;
    for (;;) {
      try {
        const file = parseShardFile(await hub.fetchRecords(s, index), `records of shard ${s}`);
        if (file.shard.index !== s) throw new Error(`shard ${s}'s hub sent the records of shard ${file.shard.index}`);
        out.push(file);
        break;
      } catch (err) {
        if (performance.now() > deadline || signal.aborted)
          throw new Error(
            `could not collect strategy ${index}'s records from shard ${s} in ${COLLECT_TIMEOUT_MS} ms: ${(err as Error).message}`,
          );
        await sleep(COLLECT_RETRY_MS);
      }
    }
  }
  return out;
}
