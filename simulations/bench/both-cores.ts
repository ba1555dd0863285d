/**
 * Issue 16, "both cores": s/round of the simulation with its peers' training on worker
 * threads (scenario `workers`, node/train-pool) against workers 0, in one run, alternated.
 *   npm exec -- node simulations/bench/both-cores.ts [--peers 30] [--workers 0,2] [--repeat 3]
 *     [--local-steps 2] [--rounds 3] [--transport inproc] [--control-rounds 5] [--json]
 *
 * Each case is the neighbours bench's scale scenario (simulations/bench/neighbours.ts: the
 * default MLP, int8 deltas, D = 8, degree-8 overlay, MNIST iid, 200 samples per peer,
 * batch 32, mean merge) in a child process of its own; the worker counts alternate
 * (0, 2, 2, 0, 0, 2, ...) so that each pair shares the machine's load. The speed-up is
 * workers-0 s/round over workers-w s/round, per adjacent pair, median over pairs.
 * Training is the only work the pool moves; decoding, validation, merging and evaluation
 * stay on the main thread, so the more local steps, the more a second core can give
 * (`--local-steps`).
 *
 * Then, in the same run, the control (simulations/bench/cores.ts): what two threads give
 * over one on this machine for a scalar JS loop and for the wasm SIMD GEMM, the ceiling of
 * any speed-up from threads here.
 */
import os from 'node:os';
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
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const peers = Number(flag(argv, '--peers', '30'));
  const counts = flag(argv, '--workers', '0,2').split(',').map(Number);
  const repeat = Number(flag(argv, '--repeat', '3'));
  const localSteps = Number(flag(argv, '--local-steps', '2'));
  const rounds = Number(flag(argv, '--rounds', '3'));
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
      };
      rows.push(row);
      log(
        `repeat ${r + 1}/${repeat} workers ${workers}: ${x.sPerRound.toFixed(2)} s/round (load ${x.load.map((l) => l.toFixed(1)).join('-')}, errors ${x.errors})`,
      );
    }
  }
  const base = counts[0] ?? 0;
  const speedUps = counts
    .filter((w) => w !== base)
    .map((w) => {
      const ratios = Array.from({ length: repeat }, (_, r) => {
        const a = rows.find((x) => x.repeat === r && x.workers === base);
        const b = rows.find((x) => x.repeat === r && x.workers === w);
        return a && b ? a.sPerRound / b.sPerRound : Number.NaN;
      });
      return { workers: w, ratios, median: median(ratios) };
    });
  const control = await runCoresBench({ rounds: controlRounds, ms: 1500, log });
  const result = {
    scenario: { transport, peers, neighbours: 8, rounds, localSteps, model: 'mlp 784-256-128-10', codec: 'int8' },
    cpus: os.availableParallelism(),
    rows,
    speedUps,
    control: control.summary,
  };
  if (json) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(`${peers} ${transport} peers, D = 8, ${localSteps} local steps, ${rounds} rounds; ${result.cpus} CPUs`);
  console.log('| repeat | workers | s/round | load (1 min, start-end) | errors |');
  console.log('|---:|---:|---:|---|---:|');
  for (const x of rows)
    console.log(
      `| ${x.repeat + 1} | ${x.workers} | ${x.sPerRound.toFixed(2)} | ${x.load.map((l) => l.toFixed(1)).join('-')} | ${x.errors} |`,
    );
  for (const s of speedUps)
    console.log(
      `workers ${s.workers} vs ${base}: speed-up ${s.median.toFixed(2)}x (per pair ${s.ratios.map((x) => x.toFixed(2)).join(', ')})`,
    );
  console.log(
    `control, two threads over one: JS loop ${control.summary.js.ratio.toFixed(2)}x, wasm GEMM ${control.summary.gemm.ratio.toFixed(2)}x (${control.summary.gemm.alone.toFixed(1)} GFLOP/s alone)`,
  );
}

if (import.meta.main) await main();
