/**
 * `meshfl simulate --scenario <file> --out <dir>`: many real peers in one process over
 * libp2p (memory or TCP loopback) or the in-process bus, one run per merge strategy on
 * the same data split and attackers; writes results.json, CSVs and SVG/PNG plots.
 * Ctrl-C stops the peers after their current step and writes what was measured so far.
 *
 * `--shard i/n --listen <addr> [--bootstrap <addr,...>]`: this process runs slice i of n
 * of the peers over TCP, linked to the other slices' processes (simulations/shard/);
 * `--combine <dirs> --out <dir>` merges shard outputs into one report.
 *
 * Static imports stay light: tfjs, libp2p (the runner, the shard network, the multiaddr
 * checks of the shard flags) and the YAML parser are imported after the flags are checked,
 * so --help and a bad flag answer at once (test/cli/lazy-imports.test.ts).
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MergeLog } from '../../simulations/merge-log.ts';
import type { PeerRound } from '../../simulations/runner.ts';
import { MAX_SIMULATION_WORKERS, parseScenario, type Scenario, ScenarioError } from '../../simulations/scenario.ts';
import type { SimulationSetup } from '../../simulations/setup.ts';
import { type ShardSpec, shardPeers } from '../../simulations/shard/slice.ts';
import type { SimulateResult } from '../../simulations/simulate.ts';
import type { MergeReport } from '../../src/merge/types.ts';
import { choiceFlag, intFlag, parseFlags } from '../args.ts';
import { EXIT_INTERRUPTED, EXIT_OK, UsageError } from '../errors.ts';
import { progressLine } from '../progress.ts';
import type { ListenAddress } from '../shard-flags.ts';

/** Opens the merge log for writing, creating its folder (often the --out folder, made later). */
function openLog(file: string): number {
  try {
    mkdirSync(dirname(file), { recursive: true });
    return openSync(file, 'w');
  } catch (e) {
    throw new UsageError(`--merge-log ${file}: ${(e as Error).message}`);
  }
}

export const SIMULATE_USAGE = `meshfl simulate --scenario <file> --out <dir>
  --scenario <file>       scenario file (.json, or .yaml/.yml)
  --out <dir>             output directory (results.json, <strategy>.csv, accuracy/bytes .svg/.png)
  --backend <name>        wasm | cpu | auto (default wasm)
  --workers <n>           train peers on n worker threads (0 = on the main thread; default:
                          the scenario's "workers", else 0)
  --seed <n>              run the scenario with this seed instead of its own (repeat a study over seeds)
  --strategies <a,b>      run only these of the scenario's strategy labels, in this order
  --merge-log <file>      write one JSON line per honest peer and round: its accuracy (per class),
                          the merge's shares and rejections by sender index, timing
several processes or machines (docs/SIMULATIONS.md "Several processes or machines"):
  --shard <i/n>           run slice i (0-based) of n of the peers; every shard gets the same scenario
  --listen <multiaddr>    this shard's hub address, e.g. /ip4/127.0.0.1/tcp/40001 (required with --shard)
  --bootstrap <addr,...>  other shards' hub addresses, e.g. /ip4/127.0.0.1/tcp/40001 (/p2p/<id> optional)
meshfl simulate --combine <dir|file>[,...] --out <dir>
  --combine <paths>       merge shard-<i>-of-<n>.json outputs into one report in --out`;

async function readScenario(file: string, seed?: number): Promise<Scenario> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `meshfl simulate: cannot read scenario ${file} (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
  const yaml = /\.ya?ml$/i.test(file);
  const parseYaml = yaml ? (await import('yaml')).parse : undefined;
  let raw: unknown;
  try {
    raw = parseYaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new UsageError(`meshfl simulate: ${file}: not valid ${yaml ? 'YAML' : 'JSON'} (${(err as Error).message})`);
  }
  // The seed also seeds the topology while parsing, so it is replaced before.
  if (seed !== undefined && raw !== null && typeof raw === 'object' && !Array.isArray(raw)) raw = { ...raw, seed };
  try {
    return parseScenario(raw);
  } catch (err) {
    if (err instanceof ScenarioError) throw new UsageError(`meshfl simulate: ${file}: ${err.message}`);
    throw err;
  }
}

/** --workers: digits only (Number('') would be 0), in [0, MAX_SIMULATION_WORKERS]. */
function workersFlag(value: string | boolean): number {
  if (typeof value !== 'string' || !/^\d+$/.test(value))
    throw new UsageError(`--workers must be an integer in [0, ${MAX_SIMULATION_WORKERS}], got "${value}"`);
  return intFlag(value, 'workers', 0, MAX_SIMULATION_WORKERS);
}

/** --seed: a non-negative integer (digits only), as the scenario's "seed" key. */
function seedFlag(value: string | boolean): number {
  if (typeof value !== 'string' || !/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new UsageError(`--seed must be a non-negative integer, got "${value}"`);
  return Number(value);
}

/** --strategies: labels of the scenario's strategies, each once; the scenario keeps those, in this order. */
function selectStrategies(scenario: Scenario, value: string | boolean): Scenario {
  const labels = typeof value === 'string' ? value.split(',').filter((l) => l !== '') : [];
  if (labels.length === 0) throw new UsageError('--strategies needs a comma-separated list of strategy labels');
  const byLabel = new Map(scenario.strategies.map((e) => [e.label, e]));
  const seen = new Set<string>();
  const strategies = labels.map((label) => {
    const entry = byLabel.get(label);
    if (entry === undefined)
      throw new UsageError(
        `--strategies: "${label}" is not a strategy of the scenario (labels: ${[...byLabel.keys()].join(', ')})`,
      );
    if (seen.has(label)) throw new UsageError(`--strategies: "${label}" given twice`);
    seen.add(label);
    return entry;
  });
  return { ...scenario, strategies };
}

/** Honest peer-rounds of the peers in `local` (a shard's slice). */
function localRounds(setup: SimulationSetup, local: ReadonlySet<number>): number {
  return setup.peers
    .filter((p) => local.has(p.index) && !p.attacker)
    .reduce((n, p) => n + (p.leaveRound - p.joinRound), 0);
}

interface ShardFlags {
  readonly spec: ShardSpec;
  readonly listen: ListenAddress;
  readonly bootstrap: string[];
}

async function shardFlags(f: Record<string, string | boolean | undefined>): Promise<ShardFlags | undefined> {
  if (typeof f.shard !== 'string') {
    if (f.listen !== undefined || f.bootstrap !== undefined)
      throw new UsageError('meshfl simulate: --listen and --bootstrap go with --shard i/n');
    return undefined;
  }
  // Multiaddr and peer id checks: small libp2p packages, loaded only for a sharded run.
  const { parseBootstrapFlag, parseListenFlag, parseShardFlag } = await import('../shard-flags.ts');
  const spec = parseShardFlag(f.shard);
  if (typeof f.listen !== 'string')
    throw new UsageError('meshfl simulate: --shard needs --listen <multiaddr>, e.g. /ip4/127.0.0.1/tcp/40001');
  return {
    spec,
    listen: parseListenFlag(f.listen),
    bootstrap: typeof f.bootstrap === 'string' ? parseBootstrapFlag(f.bootstrap) : [],
  };
}

/** Shard mode runs over TCP: memory is switched (and said), the in-process bus and churn joins are refused. */
function shardScenario(scenario: Scenario, shard: ShardSpec): Scenario {
  if (scenario.transport === 'inproc')
    throw new UsageError(
      'meshfl simulate: --shard runs peers over libp2p TCP; this scenario uses transport "inproc" (the in-process bus): set "transport": "libp2p-tcp"',
    );
  if (scenario.churn.some((c) => c.kind === 'join'))
    throw new UsageError('meshfl simulate: --shard does not support churn joins yet (leaves are fine)');
  if (scenario.peers < shard.count)
    throw new UsageError(
      `meshfl simulate: --shard ${shard.index}/${shard.count}: more shards than the ${scenario.peers} peers`,
    );
  if (scenario.transport === 'libp2p-memory')
    console.log('meshfl simulate: --shard: transport libp2p-memory replaced by libp2p-tcp (peers span processes)');
  return { ...scenario, transport: 'libp2p-tcp' };
}

async function combineCommand(f: Record<string, string | boolean | undefined>): Promise<number> {
  if (typeof f.out !== 'string') throw new UsageError('meshfl simulate: --combine needs --out <dir>');
  if (f.scenario !== undefined || f.shard !== undefined)
    throw new UsageError('meshfl simulate: --combine merges existing outputs: give no --scenario or --shard');
  const { combineShards, readShardFiles, ShardDataError } = await import('../../simulations/shard/combine.ts');
  const { writeReport } = await import('../../simulations/report.ts');
  let results: ReturnType<typeof combineShards>;
  try {
    results = combineShards(
      readShardFiles(
        String(f.combine)
          .split(',')
          .filter((p) => p !== ''),
      ),
    );
  } catch (err) {
    if (err instanceof ShardDataError) throw new UsageError(`meshfl simulate --combine: ${err.message}`);
    throw err;
  }
  const files = writeReport(f.out, results);
  console.log(
    `meshfl simulate: combined ${(results.environment.shards as unknown[]).length} shards, strategies ${Object.keys(results.strategies).join(', ') || 'none'}${results.interrupted ? ' (incomplete: interrupted)' : ''}; wrote ${files.length} files to ${f.out}`,
  );
  return EXIT_OK;
}

function rounds(s: Scenario): number {
  // Honest peer-rounds the progress bar counts: every honest peer, from join to leave.
  let total = 0;
  const honestInitial = s.peers - (s.byzantine?.count ?? 0);
  total += honestInitial * s.rounds;
  for (const c of s.churn)
    total += c.kind === 'join' ? c.count * (s.rounds - c.round) : -c.count * (s.rounds - c.round);
  return total;
}

export async function simulateCommand(argv: string[]): Promise<number> {
  const f = parseFlags(
    argv,
    {
      scenario: { type: 'string' },
      out: { type: 'string' },
      backend: { type: 'string', default: 'wasm' },
      workers: { type: 'string' },
      seed: { type: 'string' },
      shard: { type: 'string' },
      listen: { type: 'string' },
      bootstrap: { type: 'string' },
      combine: { type: 'string' },
      strategies: { type: 'string' },
      'merge-log': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    'simulate',
  );
  if (f.help) {
    console.log(SIMULATE_USAGE);
    return EXIT_OK;
  }
  if (typeof f.combine === 'string') return await combineCommand(f);
  if (typeof f.scenario !== 'string') throw new UsageError('meshfl simulate: --scenario <file> is required');
  if (typeof f.out !== 'string') throw new UsageError('meshfl simulate: --out <dir> is required');
  const out = f.out;
  const backendName = choiceFlag(f.backend, 'backend', ['wasm', 'cpu', 'auto'] as const);
  const workers = f.workers === undefined ? undefined : workersFlag(f.workers);
  const shard = await shardFlags(f);
  const read = await readScenario(f.scenario, f.seed === undefined ? undefined : seedFlag(f.seed));
  const selected = f.strategies === undefined ? read : selectStrategies(read, f.strategies);
  const withWorkers = workers === undefined ? selected : { ...selected, workers };
  const scenario = shard ? shardScenario(withWorkers, shard.spec) : withWorkers;
  const mergeLogFile = f['merge-log'];
  if (mergeLogFile !== undefined && (typeof mergeLogFile !== 'string' || mergeLogFile === ''))
    throw new UsageError('--merge-log needs a file name');
  if (mergeLogFile !== undefined && shard)
    throw new UsageError('meshfl simulate: --merge-log is not supported with --shard yet');
  // Everything is checked: now the heavy modules (tfjs, libp2p).
  const { initBackend } = await import('../../src/train/backend.ts');
  const backend = await initBackend(backendName);

  const abort = new AbortController();
  const onSigint = (): void => {
    if (abort.signal.aborted) process.exit(EXIT_INTERRUPTED); // second Ctrl-C: leave now
    console.error(
      '\nmeshfl simulate: interrupted, stopping peers and writing results so far (Ctrl-C again to quit now)',
    );
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  const mergeLog: { log: MergeLog; fd: number } | undefined =
    typeof mergeLogFile === 'string'
      ? { log: new (await import('../../simulations/merge-log.ts')).MergeLog(), fd: openLog(mergeLogFile) }
      : undefined;

  let perStrategy = rounds(scenario);
  let total = perStrategy * scenario.strategies.length;
  const progress = progressLine();
  let done = 0;
  console.log(
    `meshfl simulate: ${scenario.name}: ${scenario.peers} peers (${scenario.byzantine?.count ?? 0} ${scenario.byzantine?.attack.name ?? 'no'} attackers), ` +
      `${scenario.modelName} on ${scenario.dataset}, ${scenario.rounds} rounds, ${scenario.transport}, ` +
      `strategies ${scenario.strategies.map((s) => s.label).join(', ')}; backend ${backend}` +
      (scenario.workers > 0 ? `, training on ${scenario.workers} worker threads` : '') +
      (shard ? `; shard ${shard.spec.index}/${shard.spec.count}` : ''),
  );
  try {
    const hooks = {
      signal: abort.signal,
      onSetup: (setup: SimulationSetup) => {
        if (!shard) return;
        perStrategy = localRounds(setup, new Set(shardPeers(scenario.peers, shard.spec)));
        total = perStrategy * scenario.strategies.length;
      },
      ...(mergeLog
        ? {
            onMerge: (
              _index: number,
              label: string,
              peer: number,
              round: number,
              report: MergeReport,
              senderIndex: (id: string) => number | undefined,
            ) => mergeLog.log.merge(label, peer, round, report, senderIndex),
          }
        : {}),
      onRound: (index: number, label: string, r: PeerRound) => {
        if (mergeLog) writeSync(mergeLog.fd, `${JSON.stringify(mergeLog.log.line(label, r))}\n`);
        done++;
        const acc = r.merged ? ` acc ${(r.merged.overall * 100).toFixed(1)}%` : '';
        progress.update(
          done,
          total,
          `${label} (${index + 1}/${scenario.strategies.length}) round ${r.round + 1}/${scenario.rounds}${acc}`,
        );
      },
    };
    let run: SimulateResult;
    if (shard) {
      const log = (line: string): void => console.log(`meshfl simulate: ${line}`);
      const { simulateShard } = await import('../../simulations/shard/simulate-shard.ts');
      const ran = await simulateShard(scenario, out, backend, hooks, {
        shard: shard.spec,
        listen: shard.listen.hub,
        nodeListen: shard.listen.nodes,
        bootstrap: shard.bootstrap,
        log,
      });
      log(
        ran.combined
          ? `combined report of all ${shard.spec.count} shards in ${out}; this shard's records in ${ran.shardFile}`
          : `this shard's records in ${ran.shardFile} (figures below: this shard's peers only; shard 0 writes the combined report)`,
      );
      run = ran;
    } else {
      const { simulate } = await import('../../simulations/simulate.ts');
      run = await simulate(scenario, out, backend, hooks);
    }
    const { results, files } = run;
    progress.finish(results.interrupted ? 'interrupted' : 'done');
    for (const [label, r] of Object.entries(results.strategies)) {
      const a = r.final.honestAccuracy;
      console.log(
        `${label}: final honest accuracy ${a ? `${(a.mean * 100).toFixed(2)}% (min ${(a.min * 100).toFixed(2)}%, max ${(a.max * 100).toFixed(2)}%)` : 'n/a'}, ` +
          `rounds to 90% ${r.final.roundsTo90 ?? 'never'}, ${(r.totalBytesSentPerPeer / 1e6).toFixed(2)} MB sent per peer, ` +
          `${(r.elapsedMs / 1000).toFixed(0)} s${r.errorCount > 0 ? `, ${r.errorCount} peer errors (first: ${r.errors[0]})` : ''}`,
      );
    }
    console.log(`wrote ${files.length} files to ${out}`);
    return results.interrupted ? EXIT_INTERRUPTED : EXIT_OK;
  } finally {
    process.off('SIGINT', onSigint);
    if (mergeLog) closeSync(mergeLog.fd);
  }
}
