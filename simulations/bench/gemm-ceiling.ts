/**
 * Is the MLP's per-CPU-second target against PyTorch (issue 17) reachable in wasm at all?
 *   node simulations/bench/gemm-ceiling.ts [--rounds n] [--json]
 *
 * Three numbers on this CPU, alternated in rounds in one run (1-minute load average beside
 * each round):
 *   1. the peak of WebAssembly SIMD128 f32 arithmetic: a loop of 8 independent f32x4
 *      accumulators, acc += a * b as f32x4.mul + f32x4.add (what our GEMM issues), and the
 *      same with relaxed-SIMD's f32x4.relaxed_madd (an FMA where the CPU has one) when the
 *      engine accepts it; operands in registers, no memory traffic: an upper bound for any
 *      wasm kernel on one thread;
 *   2. our GEMM (tf.matMul on the wasm backend with meshfl's BatchMatMul, src/train/kernels)
 *      at the default MLP's shapes for batch 64 (forward, weight gradient, input gradient);
 *   3. PyTorch's sgemm (torch.mm, torch.set_num_threads(1)) at the same shapes, timed with
 *      process_time in a child Python (simulations/bench/torch-anchor.ts finds it).
 * GFLOP/s count a multiply and an add as 2 flops.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/train/backend.ts';
import {
  BR_IF,
  END,
  F32X4_ADD,
  F32X4_MUL,
  functionBody,
  get,
  I32,
  I32_CONST,
  I32_SUB,
  LOCAL_TEE,
  LOOP,
  moduleBytes,
  SIMD,
  set,
  V128,
  VOID,
  v128LoadAt,
  v128StoreAt,
} from '../../src/train/kernels/wasm-asm.ts';
import { median } from './suite/alternate.ts';
import { findTorchPython } from './torch-anchor.ts';

/** f32x4.relaxed_madd (relaxed-SIMD proposal, 0xfd 0x105). */
const F32X4_RELAXED_MADD = [SIMD, 0x85, 0x02];
const ACCUMULATORS = 8;
/** Flops per loop iteration: 8 accumulators x 4 lanes x (mul + add). */
const FLOPS_PER_ITERATION = ACCUMULATORS * 4 * 2;

function v128Const(values: readonly [number, number, number, number]): number[] {
  return [SIMD, 0x0c, ...new Uint8Array(new Float32Array(values).buffer)];
}

/**
 * peak(n): n iterations of: a[r] = v128.load(16 + 16r) (so nothing is loop-invariant; loads
 * issue on other ports than the arithmetic, as in a GEMM), then acc[2j + r] += a[r] * b[j % 2]
 * (j < 4, r < 2); the accumulators' sum is stored at address 0 (kept live).
 */
function peakBody(fused: boolean): number[] {
  // param 0: n (i32). v128 locals: acc 1..8, a 9..10, b 11..12.
  const acc = (i: number) => 1 + i;
  const a = (r: number) => 9 + r;
  const b = (j: number) => 11 + j;
  const init: number[] = [];
  for (let r = 0; r < 2; r++) init.push(...v128Const([1 + r * 0.1, 1.01, 0.99, 1]), ...set(a(r)));
  for (let j = 0; j < 2; j++) init.push(...v128Const([1e-3, -1e-3, 2e-3 * j, 1e-4]), ...set(b(j)));
  const body: number[] = [];
  for (let r = 0; r < 2; r++) body.push(I32_CONST, 0, ...v128LoadAt(16 + 16 * r), ...set(a(r)));
  for (let j = 0; j < 4; j++) {
    for (let r = 0; r < 2; r++) {
      const k = acc(2 * j + r);
      // Two b vectors, not four: 8 accumulators + 2 a + 2 b + the product's temporary
      // fit x64's 16 vector registers (V8 keeps one as scratch); with 4 b it spills.
      const bj = b(j % 2);
      if (fused) body.push(...get(a(r)), ...get(bj), ...get(k), ...F32X4_RELAXED_MADD, ...set(k));
      else body.push(...get(k), ...get(a(r)), ...get(bj), ...F32X4_MUL, ...F32X4_ADD, ...set(k));
    }
  }
  const sum: number[] = [I32_CONST, 0, ...get(acc(0))];
  for (let i = 1; i < ACCUMULATORS; i++) sum.push(...get(acc(i)), ...F32X4_ADD);
  sum.push(...v128StoreAt(0));
  return functionBody(
    [[12, V128]],
    [...init, LOOP, VOID, ...body, ...get(0), I32_CONST, 1, I32_SUB, LOCAL_TEE, 0, BR_IF, 0, END, ...sum],
  );
}

type Peak = (n: number) => void;

function peakFunction(fused: boolean): Peak | undefined {
  const bytes = moduleBytes([{ params: [I32] }], [{ name: 'peak', type: 0, body: peakBody(fused) }]);
  try {
    const module = new WebAssembly.Module(bytes);
    const memory = new WebAssembly.Memory({ initial: 1 });
    return (new WebAssembly.Instance(module, { env: { memory } }).exports as { peak: Peak }).peak;
  } catch {
    return undefined;
  }
}

/** GFLOP/s of `peak` over about 0.3 s of CPU time. */
function peakGflops(peak: Peak): number {
  const n = 2_000_000;
  peak(n / 10); // compile (tier-up) and warm
  const c = process.cpuUsage();
  let iterations = 0;
  let seconds = 0;
  while (seconds < 0.3) {
    peak(n);
    iterations += n;
    const u = process.cpuUsage(c);
    seconds = (u.user + u.system) / 1e6;
  }
  return (iterations * FLOPS_PER_ITERATION) / seconds / 1e9;
}

/** [m, k] x [k, n], with the operand layouts the MLP's step uses. */
interface Shape {
  readonly name: string;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

const BATCH = 64;
const LAYERS: readonly [number, number][] = [
  [784, 256],
  [256, 128],
  [128, 10],
];
const SHAPES: readonly Shape[] = LAYERS.flatMap(([fanIn, fanOut], l): Shape[] => {
  const forward = { name: `fwd ${l}`, m: BATCH, k: fanIn, n: fanOut, transposeA: false, transposeB: false };
  // dW = x^T dy: [fanIn, BATCH] x [BATCH, fanOut].
  const weight = { name: `dW ${l}`, m: fanIn, k: BATCH, n: fanOut, transposeA: true, transposeB: false };
  // dx = dy W^T: [BATCH, fanOut] x [fanOut, fanIn] (none for the first layer: the input).
  const input = { name: `dX ${l}`, m: BATCH, k: fanOut, n: fanIn, transposeA: false, transposeB: true };
  return l === 0 ? [forward, weight] : [forward, weight, input];
});
const flops = (s: Shape) => 2 * s.m * s.k * s.n;

/** GFLOP/s of each shape on the wasm backend (every product read back from the heap). */
function ourGemm(): number[] {
  return SHAPES.map((s) => {
    const a = tf.randomNormal(s.transposeA ? [s.k, s.m] : [s.m, s.k], 0, 1, 'float32', 1) as tf.Tensor2D;
    const b = tf.randomNormal(s.transposeB ? [s.n, s.k] : [s.k, s.n], 0, 1, 'float32', 2) as tf.Tensor2D;
    // The tidy returns nothing: returning the read-back array would make tidy walk its
    // every element looking for tensors (slower than the product itself).
    const run = () =>
      tf.tidy(() => {
        tf.matMul(a, b, s.transposeA, s.transposeB).dataSync();
      });
    for (let i = 0; i < 5; i++) run();
    const c = process.cpuUsage();
    let reps = 0;
    let seconds = 0;
    while (seconds < 0.15) {
      for (let i = 0; i < 10; i++) run();
      reps += 10;
      const u = process.cpuUsage(c);
      seconds = (u.user + u.system) / 1e6;
    }
    tf.dispose([a, b]);
    return (reps * flops(s)) / seconds / 1e9;
  });
}

const TORCH_SCRIPT = `
import json, sys, time, torch
torch.set_num_threads(1)
out = []
for m, k, n, ta, tb in json.loads(sys.argv[1]):
    a = torch.randn(k, m).t() if ta else torch.randn(m, k)
    b = torch.randn(n, k).t() if tb else torch.randn(k, n)
    for _ in range(5): torch.mm(a, b)
    reps, t0 = 0, time.process_time()
    while time.process_time() - t0 < 0.15:
        for _ in range(10): torch.mm(a, b)
        reps += 10
    out.append(reps * 2 * m * k * n / (time.process_time() - t0) / 1e9)
print(json.dumps(out))
`;

function torchGemm(python: string): number[] {
  const shapes = SHAPES.map((s) => [s.m, s.k, s.n, s.transposeA, s.transposeB]);
  const r = spawnSync(python, ['-c', TORCH_SCRIPT, JSON.stringify(shapes)], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
  });
  if (r.status !== 0) throw new Error(`torch: ${r.stderr.trim().split('\n').at(-1) ?? r.status}`);
  return JSON.parse(r.stdout) as number[];
}

export interface GemmCeilingRound {
  readonly load: number;
  readonly wasmMulAdd: number;
  readonly wasmRelaxedMadd: number | undefined;
  /** Per shape, SHAPES' order. */
  readonly ours: readonly number[];
  readonly torch: readonly number[] | undefined;
}

export async function runGemmCeiling(rounds: number, log: (l: string) => void) {
  await initBackend('wasm');
  const torch = findTorchPython();
  if ('reason' in torch) log(`torch: skipped, ${torch.reason}`);
  const mulAdd = peakFunction(false);
  if (mulAdd === undefined) throw new Error('this engine has no WebAssembly SIMD');
  const madd = peakFunction(true);
  if (madd === undefined) log('relaxed SIMD: not accepted by this engine');
  const total = SHAPES.reduce((n, s) => n + flops(s), 0);
  /** GFLOP/s over the whole set of shapes (time-weighted: total flops / total time). */
  const overall = (g: readonly number[]) => total / SHAPES.reduce((t, s, i) => t + flops(s) / (g[i] ?? Number.NaN), 0);
  const all: GemmCeilingRound[] = [];
  for (let r = 0; r < rounds; r++) {
    const round: GemmCeilingRound = {
      load: os.loadavg()[0] ?? 0,
      wasmMulAdd: peakGflops(mulAdd),
      wasmRelaxedMadd: madd === undefined ? undefined : peakGflops(madd),
      ours: ourGemm(),
      torch: 'python' in torch ? torchGemm(torch.python) : undefined,
    };
    all.push(round);
    log(
      `round ${r + 1}/${rounds} (load ${round.load.toFixed(1)}): wasm peak mul+add ${round.wasmMulAdd.toFixed(1)} GFLOP/s, ` +
        `relaxed madd ${round.wasmRelaxedMadd?.toFixed(1) ?? '-'}; MLP shapes overall: ours ${overall(round.ours).toFixed(1)}, ` +
        `torch ${round.torch === undefined ? '-' : overall(round.torch).toFixed(1)}`,
    );
  }
  // Ceilings: on a shared machine the best round is the one least disturbed; medians beside.
  const best = (xs: readonly number[]) => Math.max(...xs);
  const rows = SHAPES.map((s, i) => ({
    shape: `${s.name}: [${s.m}x${s.k}]${s.transposeA ? '(A^T)' : ''} x [${s.k}x${s.n}]${s.transposeB ? '(B^T)' : ''}`,
    mflop: flops(s) / 1e6,
    ours: median(all.map((r) => r.ours[i] ?? Number.NaN)),
    oursBest: best(all.map((r) => r.ours[i] ?? Number.NaN)),
    torch: all[0]?.torch === undefined ? undefined : median(all.map((r) => r.torch?.[i] ?? Number.NaN)),
    torchBest: all[0]?.torch === undefined ? undefined : best(all.map((r) => r.torch?.[i] ?? Number.NaN)),
  }));
  return {
    node: process.version,
    torch: 'python' in torch ? torch.version : undefined,
    wasmMulAdd: median(all.map((r) => r.wasmMulAdd)),
    wasmRelaxedMadd: madd === undefined ? undefined : median(all.map((r) => r.wasmRelaxedMadd ?? Number.NaN)),
    wasmMulAddBest: best(all.map((r) => r.wasmMulAdd)),
    wasmRelaxedMaddBest: madd === undefined ? undefined : best(all.map((r) => r.wasmRelaxedMadd ?? Number.NaN)),
    oursOverall: median(all.map((r) => overall(r.ours))),
    oursOverallBest: best(all.map((r) => overall(r.ours))),
    torchOverall: all[0]?.torch === undefined ? undefined : median(all.map((r) => overall(r.torch ?? []))),
    torchOverallBest: all[0]?.torch === undefined ? undefined : best(all.map((r) => overall(r.torch ?? []))),
    rows,
    rounds: all,
  };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--rounds');
  const rounds = at >= 0 ? Number(args[at + 1]) : 5;
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error('--rounds must be an integer >= 1');
  const json = args.includes('--json');
  const r = await runGemmCeiling(rounds, json ? () => {} : console.log);
  if (json) console.log(JSON.stringify(r));
  else {
    const f = (x: number | undefined) => x?.toFixed(1) ?? '-';
    console.log(
      `median (best) GFLOP/s: wasm SIMD128 peak mul+add ${f(r.wasmMulAdd)} (${f(r.wasmMulAddBest)}), relaxed madd ` +
        `${f(r.wasmRelaxedMadd)} (${f(r.wasmRelaxedMaddBest)}); MLP shapes overall: ours ${f(r.oursOverall)} ` +
        `(${f(r.oursOverallBest)}), torch ${f(r.torchOverall)} (${f(r.torchOverallBest)}) (${r.torch ?? 'no torch'})`,
    );
    for (const row of r.rows)
      console.log(
        `  ${row.shape} (${row.mflop.toFixed(1)} MFLOP): ours ${f(row.ours)} (${f(row.oursBest)}), torch ${f(row.torch)} (${f(row.torchBest)})`,
      );
  }
}
