/**
 * Issue 16, "both cores": s/round of the simulation with its peers' training on worker
 * threads (scenario `workers`, node/train-pool) against workers 0, in one run, alternated.
 *   npm exec -- node simulations/bench/both-cores.ts [--peers 30] [--workers 0,2] [--repeat 3]
 *     [--local-steps 50] [--rounds 8] [--transport inproc] [--control-rounds 5] [--json]
 *
 * Each case is the neighbours bench's scale scenario (simulations/bench/neighbours.ts: the
 * default MLP, int8 deltas, D = 8, degree-8 overlay, MNIST iid, 200 samples per peer,
 * batch 32, mean merge) in a child process of its own; the worker counts alternate
 * (0, 2, 2, 0, 0, 2, ...) so that each pair shares the machine's load. The speed-up is
 * workers-0 s/round over workers-w s/round, per adjacent pair, median over pairs: over the
 * whole run ((elapsed - setup) / R), and over rounds 1 .. R-2 (round-end times: without
 * round 0's warm-up and the last round, which closes early). Local steps default to the
 * task's (TASK_DEFAULTS.localSteps). Training is the only work the pool moves; decoding,
 * validation, merging and evaluation stay on the main thread, so the fewer local steps, the
 * less a second core can give (`--local-steps 2`: the mesh's own cost).
 * Each row also gives the process's CPU seconds per round (every thread) and the cores busy
 * (CPU / wall): with workers 0, V8's GC threads already use part of the second core, and
 * the workers-w run's CPU per round over the cores bounds what any schedule can give
 * ("ceiling with every core busy").
 *
 * Then, in the same run, the control (simulations/bench/cores.ts): what two threads give
 * over one on this machine for a scalar JS loop and for the wasm SIMD GEMM, the ceiling of
 * any speed-up from threads here.
 */
import os from 'node:os';
import { TASK_DEFAULTS } from '../../src/peer/task.ts';
import { runCoresBench } from './cores.ts';
import { type ScaleResult, scaleInChild } from './neighbours.ts';
import { median } from './suite/alternate.ts';

function flag(argv: string[], name: string, fallback: string): string {
  const at = argv.indexOf(name);
  return at >= 0 ? (argv[at + 1] ?? fallback) : fallback;
}

export interface BothCoresRow {
  readonly repeat: number;
  readonly workers: number;
  readonly sPerRound: number;
  readonly setupS: number;
  readonly load: readonly [number, number];
  readonly errors: number;
  readonly candidatesMean: number;
  /** s/round over rounds 1 .. R-2 (round-end times): without round 0's warm-up and the last round, which closes early. */
  readonly steadySPerRound: number;
  /** Process CPU seconds (every thread) per round over the same rounds. */
  readonly cpuSPerRound: number;
  /** Cores busy on average over those rounds: CPU seconds / wall seconds. */
  readonly cores: number;
}

/** Steady rounds: 1 .. R-2 of the round-end times (NaN with fewer than 4 rounds). */
function steady(
  x: Pick<ScaleResult, 'roundEndS' | 'cpuRoundEndS'>,
): Pick<BothCoresRow, 'steadySPerRound' | 'cpuSPerRound' | 'cores'> {
  const e = x.roundEndS;
  const c = x.cpuRoundEndS;
  const n = e.length - 2;
  if (n < 2) return { steadySPerRound: Number.NaN, cpuSPerRound: Number.NaN, cores: Number.NaN };
  const wall = (e[n] as number) - (e[0] as number);
  const cpu = (c[n] as number) - (c[0] as number);
  return { steadySPerRound: wall / n, cpuSPerRound: cpu / n, cores: cpu / wall };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const peers = Number(flag(argv, '--peers', '30'));
  const counts = flag(argv, '--workers', '0,2').split(',').map(Number);
  const repeat = Number(flag(argv, '--repeat', '3'));
  const localSteps = Number(flag(argv, '--local-steps', String(TASK_DEFAULTS.localSteps)));
  const rounds = Number(flag(argv, '--rounds', '8'));
  const transport = flag(argv, '--transport', 'inproc') as 'inproc' | 'libp2p-memory';
  const controlRounds = Number(flag(argv, '--control-rounds', '5'));
  const log = (l: string): void => {
    process.stderr.write(`${l}\n`);
  };
  const rows: BothCoresRow[] = [];
  for (let r = 0; r < repeat; r++) {
    const order = r % 2 === 0 ? counts : [...counts].reverse();
    for (const workers of order) {
      const x: ScaleResult = await scaleInChild({ transport, peers, neighbours: 8, rounds, workers, localSteps });
      const row = {
        repeat: r,
        workers,
        sPerRound: x.sPerRound,
        setupS: x.setupMs / 1000,
        load: x.load,
        errors: x.errors,
        candidatesMean: x.candidatesMean,
        ...steady(x),
      };
      rows.push(row);
      log(
        `repeat ${r + 1}/${repeat} workers ${workers}: ${x.sPerRound.toFixed(2)} s/round, steady ${row.steadySPerRound.toFixed(2)} (${row.cores.toFixed(2)} cores busy; load ${x.load.map((l) => l.toFixed(1)).join('-')}, errors ${x.errors})`,
      );
    }
  }
  const base = counts[0] ?? 0;
  const cpus = os.availableParallelism();
  const speedUps = counts
    .filter((w) => w !== base)
    .map((w) => {
      const pairs = Array.from({ length: repeat }, (_, r) => {
        const a = rows.find((x) => x.repeat === r && x.workers === base);
        const b = rows.find((x) => x.repeat === r && x.workers === w);
        if (!a || !b) return { whole: Number.NaN, steady: Number.NaN, ceiling: Number.NaN };
        return {
          whole: a.sPerRound / b.sPerRound,
          steady: a.steadySPerRound / b.steadySPerRound,
          // What the pair would give if the workers-w run kept every core busy with the CPU it spent.
          ceiling: a.steadySPerRound / (b.cpuSPerRound / cpus),
        };
      });
      return {
        workers: w,
        ratios: pairs.map((p) => p.whole),
        median: median(pairs.map((p) => p.whole)),
        steadyRatios: pairs.map((p) => p.steady),
        steadyMedian: median(pairs.map((p) => p.steady)),
        ceilingMedian: median(pairs.map((p) => p.ceiling)),
      };
    });
  const control = await runCoresBench({ rounds: controlRounds, ms: 1500, log });
  const result = {
    scenario: { transport, peers, neighbours: 8, rounds, localSteps, model: 'mlp 784-256-128-10', codec: 'int8' },
    cpus,
    rows,
    speedUps,
    control: control.summary,
  };
  if (json) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(`${peers} ${transport} peers, D = 8, ${localSteps} local steps, ${rounds} rounds; ${result.cpus} CPUs`);
  console.log(
    '| repeat | workers | s/round (whole run) | s/round (rounds 1..R-2) | CPU s/round | cores busy | load (1 min, start-end) | errors |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---|---:|');
  for (const x of rows)
    console.log(
      `| ${x.repeat + 1} | ${x.workers} | ${x.sPerRound.toFixed(2)} | ${x.steadySPerRound.toFixed(2)} | ${x.cpuSPerRound.toFixed(2)} | ${x.cores.toFixed(2)} | ${x.load.map((l) => l.toFixed(1)).join('-')} | ${x.errors} |`,
    );
  for (const s of speedUps)
    console.log(
      `workers ${s.workers} vs ${base}: speed-up ${s.median.toFixed(2)}x whole run (per pair ${s.ratios.map((x) => x.toFixed(2)).join(', ')}), ${s.steadyMedian.toFixed(2)}x rounds 1..R-2 (${s.steadyRatios.map((x) => x.toFixed(2)).join(', ')}); ceiling with every core busy ${s.ceilingMedian.toFixed(2)}x`,
    );
  console.log(
    `control, two threads over one: JS loop ${control.summary.js.ratio.toFixed(2)}x, wasm GEMM ${control.summary.gemm.ratio.toFixed(2)}x (${control.summary.gemm.alone.toFixed(1)} GFLOP/s alone)`,
  );
}

if (import.meta.main) await main();
