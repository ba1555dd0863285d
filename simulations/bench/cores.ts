/**
 * How much does a second core give on this machine? A control for the training pool's
 * "both cores" target (issue 16: s/round with workers >= 1.6x faster than with 0 workers).
 *   npm exec -- node simulations/bench/cores.ts [--rounds 7] [--ms 1500] [--json]
 *
 * Two worker threads (simulations/bench/cores-worker.ts). Each round, for each kind of work,
 * one worker runs alone for `--ms`, then both run for `--ms` at once (the order alternates
 * by round); the ratio is the total throughput of both over the one alone: 2.0 on two
 * free cores, 1.0 when the two threads share one core's worth. Kinds: 'js', a scalar JS
 * loop (no SIMD, no memory traffic: the integer/float pipelines), and 'gemm', tf.matMul on
 * the wasm backend at the default MLP's first-layer shape (meshfl's SIMD GEMM: what
 * training spends its time in). The 1-minute load average is kept per round: on a shared
 * machine other processes take cores too, and only an idle run says what the cores give.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { type CoresAnswer, type CoresKind, GEMM_FLOPS, JS_ITERATIONS } from './cores-worker.ts';
import { median } from './suite/alternate.ts';

const WORKER_URL = new URL('./cores-worker.ts', import.meta.url);
const KINDS: readonly CoresKind[] = ['js', 'gemm'];

export interface CoresRound {
  readonly kind: CoresKind;
  readonly load: number;
  /** Units per second: one worker alone, and both together (sum). */
  readonly alone: number;
  readonly both: number;
  readonly ratio: number;
}

export interface CoresResult {
  readonly cpus: number;
  readonly node: string;
  readonly ms: number;
  readonly rounds: readonly CoresRound[];
  /** Per kind: median ratio both/alone, and median rate alone (GFLOP/s for gemm, M iterations/s for js). */
  readonly summary: Readonly<Record<CoresKind, { ratio: number; alone: number; both: number }>>;
}

function startWorker(): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER_URL);
    w.once('error', reject);
    w.once('message', (m) => (m === 'ready' ? resolve(w) : reject(new Error(`unexpected ${String(m)}`))));
  });
}

function work(w: Worker, kind: CoresKind, ms: number): Promise<CoresAnswer> {
  return new Promise((resolve, reject) => {
    w.once('error', reject);
    w.once('message', (m: CoresAnswer) => {
      w.off('error', reject);
      resolve(m);
    });
    w.postMessage({ kind, ms });
  });
}

/** Units per second of a unit, in the unit the report uses (GFLOP/s or M iterations/s). */
const scale = (kind: CoresKind, perSecond: number): number =>
  kind === 'gemm' ? (perSecond * GEMM_FLOPS) / 1e9 : (perSecond * JS_ITERATIONS) / 1e6;

export async function runCoresBench(options: { rounds: number; ms: number; log: (l: string) => void }) {
  const workers = [await startWorker(), await startWorker()];
  const [first, second] = workers as [Worker, Worker];
  const rounds: CoresRound[] = [];
  try {
    for (let r = 0; r < options.rounds; r++) {
      for (const kind of KINDS) {
        const load = os.loadavg()[0] ?? 0;
        const alone = async () => {
          const a = await work(first, kind, options.ms);
          return scale(kind, (a.units / a.ms) * 1000);
        };
        const both = async () => {
          const [a, b] = await Promise.all([work(first, kind, options.ms), work(second, kind, options.ms)]);
          return scale(kind, (a.units / a.ms) * 1000) + scale(kind, (b.units / b.ms) * 1000);
        };
        let one: number;
        let two: number;
        if (r % 2 === 0) {
          one = await alone();
          two = await both();
        } else {
          two = await both();
          one = await alone();
        }
        const row = { kind, load, alone: one, both: two, ratio: two / one };
        rounds.push(row);
        options.log(
          `round ${r + 1}/${options.rounds} ${kind}: alone ${one.toFixed(1)}, both ${two.toFixed(1)} ${kind === 'gemm' ? 'GFLOP/s' : 'M it/s'}, ratio ${row.ratio.toFixed(2)} (load ${load.toFixed(1)})`,
        );
      }
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  const of = (kind: CoresKind) => rounds.filter((x) => x.kind === kind);
  const summarise = (kind: CoresKind) => ({
    ratio: median(of(kind).map((x) => x.ratio)),
    alone: median(of(kind).map((x) => x.alone)),
    both: median(of(kind).map((x) => x.both)),
  });
  return {
    cpus: os.availableParallelism(),
    node: process.version,
    ms: options.ms,
    rounds,
    summary: { js: summarise('js'), gemm: summarise('gemm') },
  } satisfies CoresResult;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const flag = (name: string, fallback: number): number => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const json = args.includes('--json');
  const result = await runCoresBench({
    rounds: flag('--rounds', 7),
    ms: flag('--ms', 1500),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  if (json) console.log(JSON.stringify(result));
  else {
    console.log(`${result.cpus} CPUs, ${result.node}, ${result.ms} ms per measurement`);
    console.log('| work | one thread alone | two threads at once (sum) | ratio (median) |');
    console.log('|---|---:|---:|---:|');
    for (const kind of KINDS) {
      const s = result.summary[kind];
      const unit = kind === 'gemm' ? 'GFLOP/s' : 'M it/s';
      console.log(
        `| ${kind} | ${s.alone.toFixed(1)} ${unit} | ${s.both.toFixed(1)} ${unit} | ${s.ratio.toFixed(2)}x |`,
      );
    }
  }
}
