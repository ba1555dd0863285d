/**
 * `meshfl simulate --scenario <file> --out <dir>`: many real peers in one process over
 * libp2p (memory or TCP loopback) or the in-process bus, one run per merge strategy on
 * the same data split and attackers; writes results.json, CSVs and SVG/PNG plots.
 * Ctrl-C stops the peers after their current step and writes what was measured so far.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { MAX_SIMULATION_WORKERS, parseScenario, type Scenario, ScenarioError } from '../../simulations/scenario.ts';
import { simulate } from '../../simulations/simulate.ts';
import { initBackend } from '../../src/train/backend.ts';
import { choiceFlag, intFlag, parseFlags, UsageError } from '../args.ts';
import { progressLine } from '../progress.ts';

export const SIMULATE_SUMMARY =
  'meshfl simulate --scenario <file> --out <dir>  many peers in one process, one run per strategy (docs/SIMULATIONS.md)';

export const SIMULATE_USAGE = `meshfl simulate --scenario <file> --out <dir>
  --scenario <file>       scenario file (.json, or .yaml/.yml)
  --out <dir>             output directory (results.json, <strategy>.csv, accuracy/bytes .svg/.png)
  --backend <name>        wasm | cpu | auto (default wasm)
  --workers <n>           train peers on n worker threads (0 = on the main thread; default:
                          the scenario's "workers", else 0)`;

/** Exit code after Ctrl-C (128 + SIGINT), as shells report it. */
const INTERRUPTED_EXIT = 130;

function readScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `meshfl simulate: cannot read scenario ${file} (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
  const yaml = /\.ya?ml$/i.test(file);
  let raw: unknown;
  try {
    raw = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new UsageError(`meshfl simulate: ${file}: not valid ${yaml ? 'YAML' : 'JSON'} (${(err as Error).message})`);
  }
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
      help: { type: 'boolean', short: 'h' },
    },
    'simulate',
  );
  if (f.help) {
    console.log(SIMULATE_USAGE);
    return 0;
  }
  if (typeof f.scenario !== 'string') throw new UsageError('meshfl simulate: --scenario <file> is required');
  if (typeof f.out !== 'string') throw new UsageError('meshfl simulate: --out <dir> is required');
  const read = readScenario(f.scenario);
  const scenario = f.workers === undefined ? read : { ...read, workers: workersFlag(f.workers) };
  const backend = await initBackend(choiceFlag(f.backend, 'backend', ['wasm', 'cpu', 'auto'] as const));

  const abort = new AbortController();
  const onSigint = (): void => {
    if (abort.signal.aborted) process.exit(INTERRUPTED_EXIT); // second Ctrl-C: leave now
    console.error(
      '\nmeshfl simulate: interrupted, stopping peers and writing results so far (Ctrl-C again to quit now)',
    );
    abort.abort();
  };
  process.on('SIGINT', onSigint);

  const perStrategy = rounds(scenario);
  const total = perStrategy * scenario.strategies.length;
  const progress = progressLine();
  let done = 0;
  console.log(
    `meshfl simulate: ${scenario.name}: ${scenario.peers} peers (${scenario.byzantine?.count ?? 0} ${scenario.byzantine?.attack.name ?? 'no'} attackers), ` +
      `${scenario.modelName} on ${scenario.dataset}, ${scenario.rounds} rounds, ${scenario.transport}, ` +
      `strategies ${scenario.strategies.map((s) => s.label).join(', ')}; backend ${backend}` +
      (scenario.workers > 0 ? `, training on ${scenario.workers} worker threads` : ''),
  );
  try {
    const { results, files } = await simulate(scenario, f.out, backend, {
      signal: abort.signal,
      onRound: (index, label, r) => {
        done++;
        const acc = r.merged ? ` acc ${(r.merged.overall * 100).toFixed(1)}%` : '';
        progress.update(
          done,
          total,
          `${label} (${index + 1}/${scenario.strategies.length}) round ${r.round + 1}/${scenario.rounds}${acc}`,
        );
      },
    });
    progress.finish(results.interrupted ? 'interrupted' : 'done');
    for (const [label, r] of Object.entries(results.strategies)) {
      const a = r.final.honestAccuracy;
      console.log(
        `${label}: final honest accuracy ${a ? `${(a.mean * 100).toFixed(2)}% (min ${(a.min * 100).toFixed(2)}%, max ${(a.max * 100).toFixed(2)}%)` : 'n/a'}, ` +
          `rounds to 90% ${r.final.roundsTo90 ?? 'never'}, ${(r.totalBytesSentPerPeer / 1e6).toFixed(2)} MB sent per peer, ` +
          `${(r.elapsedMs / 1000).toFixed(0)} s${r.errorCount > 0 ? `, ${r.errorCount} peer errors (first: ${r.errors[0]})` : ''}`,
      );
    }
    console.log(`wrote ${files.length} files to ${f.out}`);
    return results.interrupted ? INTERRUPTED_EXIT : 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
