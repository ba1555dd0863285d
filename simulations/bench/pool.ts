/**
 * Training pool speed-up: the same small simulation (MNIST MLP peers over the in-process
 * bus, a few rounds) with its peers' training on the main thread (workers 0) and on 1 and
 * 2 worker threads (node/train-pool), in one process, so the ratios share the machine's
 * load. Also where the time goes: the main thread's event-loop utilisation (busy share of
 * the run) and its busy ms per round, which with workers is evaluation, encoding, gossip
 * and merging only.
 *   npm run bench:pool [-- --quick] [-- --json]
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { initBackend } from '../../src/train/backend.ts';
import { strategyResult } from '../results.ts';
import { runStrategy } from '../runner.ts';
import { parseScenario } from '../scenario.ts';
import { buildSetup, type SimulationSetup } from '../setup.ts';

export interface PoolRow {
  readonly workload: string;
  readonly workers: number;
  readonly rounds: number;
  /** (run - setup) / rounds, ms. */
  readonly msPerRound: number;
  /** workers-0 ms/round over this row's. */
  readonly speedUp: number;
  /** Main thread's event-loop utilisation over the rounds (1 = never idle). */
  readonly mainUtilisation: number;
  /** mainUtilisation x ms/round: main-thread CPU per round. */
  readonly mainBusyMsPerRound: number;
  readonly finalAccuracy: number | null;
  readonly errors: number;
  /** 1-minute load average after the row. */
  readonly load: number;
}

export interface PoolBenchResult {
  readonly setup: string;
  readonly workloads: Readonly<Record<string, string>>;
  readonly rows: readonly PoolRow[];
}

const WORKER_COUNTS = [0, 1, 2] as const;

/**
 * Two mixes of main-thread and training work: the scenario defaults (evaluate before and
 * after every merge) and a training-heavy one (4x the local steps, evaluated once).
 */
const WORKLOADS = {
  'evaluate every round': { localSteps: 20, evaluateEvery: 1 },
  'training-heavy': { localSteps: 80, evaluateEvery: 'rounds' },
} as const;
type Workload = keyof typeof WORKLOADS;

function scenario(quick: boolean, workload: Workload) {
  const w = WORKLOADS[workload];
  const rounds = quick ? 2 : 3;
  return parseScenario({
    name: 'bench-pool',
    dataset: 'mnist',
    model: 'mlp',
    peers: quick ? 8 : 16,
    partition: { kind: 'iid' },
    strategies: ['mean'],
    rounds,
    localSteps: w.localSteps,
    evaluateEvery: w.evaluateEvery === 'rounds' ? rounds : w.evaluateEvery,
    batchSize: 32,
    samplesPerPeer: 640,
    testSubset: 500,
    codec: 'fp32',
    transport: 'inproc',
    degree: 4,
    seed: 1,
  });
}

async function row(setup: SimulationSetup, workload: Workload, workers: number): Promise<Omit<PoolRow, 'speedUp'>> {
  const s = { ...setup, scenario: { ...setup.scenario, workers } };
  const entry = s.scenario.strategies[0];
  if (entry === undefined) throw new Error('scenario without a strategy');
  const before = performance.eventLoopUtilization();
  const run = await runStrategy(s, entry);
  const elu = performance.eventLoopUtilization(before);
  const rounds = s.scenario.rounds;
  const msPerRound = (run.elapsedMs - run.setupMs) / rounds;
  return {
    workload,
    workers,
    rounds,
    msPerRound,
    mainUtilisation: elu.utilization,
    mainBusyMsPerRound: elu.utilization * msPerRound,
    finalAccuracy: strategyResult(run).final.honestAccuracy?.mean ?? null,
    errors: run.errorCount,
    load: os.loadavg()[0] ?? 0,
  };
}

export async function runPoolBench(options: {
  quick: boolean;
  log?: (line: string) => void;
}): Promise<PoolBenchResult> {
  const log = options.log ?? (() => {});
  await initBackend('wasm');
  const rows: PoolRow[] = [];
  let s = scenario(options.quick, 'evaluate every round');
  for (const workload of Object.keys(WORKLOADS) as Workload[]) {
    s = scenario(options.quick, workload);
    const setup = buildSetup(s);
    let base = Number.NaN;
    for (const workers of WORKER_COUNTS) {
      const r = await row(setup, workload, workers);
      if (workers === 0) base = r.msPerRound;
      rows.push({ ...r, speedUp: base / r.msPerRound });
      log(
        `pool ${workload} workers=${workers}: ${r.msPerRound.toFixed(0)} ms/round, main thread busy ${(r.mainUtilisation * 100).toFixed(0)}%` +
          ` (${r.mainBusyMsPerRound.toFixed(0)} ms/round), accuracy ${r.finalAccuracy?.toFixed(4)}, load ${r.load.toFixed(2)}`,
      );
    }
  }
  return {
    setup:
      `${s.peers} peers, MNIST iid, ${s.samplesPerPeer} samples each, the default MLP (784-256-128-10), ${s.rounds} rounds, ` +
      `batch ${s.batchSize}, mean merge, fp32 updates, degree 4, in-process bus, evaluation on ${s.testSubset} test samples`,
    workloads: {
      'evaluate every round': '20 local steps per round, evaluated before and after every merge',
      'training-heavy': '80 local steps per round, evaluated in the first round only',
    },
    rows,
  };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const result = await runPoolBench({ quick: args.includes('--quick'), log: json ? undefined : console.log });
  if (json) console.log(JSON.stringify(result));
}
