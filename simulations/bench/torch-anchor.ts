/**
 * PyTorch as the training anchor: meshfl's Trainer (wasm) against PyTorch on the same CPU,
 * the same architectures (default MLP and RepOpt CNN), batch 64, SGD momentum 0.9,
 * alternated in one run (meshfl, PyTorch, meshfl, PyTorch, ...; median of per-round ratios).
 *   npm run bench:torch [-- --quick] [-- --json]
 *
 * Two comparisons per model:
 * - samples per CPU-second, 1 thread against 1 thread: meshfl's Trainer on the main thread
 *   (process.cpuUsage) against PyTorch with 1 thread (time.process_time);
 * - samples per wall-second, 2 against 2: meshfl's two training-pool workers (two peers,
 *   node/train-pool, one Trainer each) against PyTorch with 2 threads.
 *
 * PyTorch runs in child processes (simulations/bench/torch/anchor.py), one per thread count,
 * started once. Python: $MESHFL_TORCH_PYTHON if set, else /usr/bin/python3 (Debian's
 * python3-torch installs there, not into other Pythons on PATH), else python3 on PATH. When
 * none imports torch the section is skipped with its reason; nothing else needs torch.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadDataset } from '../../node/datasets.ts';
import { TrainingPool } from '../../node/train-pool/pool.ts';
import { sharedDataset } from '../../node/train-pool/shared-dataset.ts';
import { type Dataset, subset } from '../../src/data/dataset.ts';
import { buildModel, getWeights } from '../../src/model/model.ts';
import { defaultSpec } from '../../src/model/spec.ts';
import { initBackend } from '../../src/train/backend.ts';
import { batchOrderRng, Trainer } from '../../src/train/trainer.ts';
import { median } from './suite/alternate.ts';

export const TORCH_PYTHON_ENV = 'MESHFL_TORCH_PYTHON';
const DEBIAN_PYTHON = '/usr/bin/python3';
const ANCHOR_SCRIPT = fileURLToPath(new URL('./torch/anchor.py', import.meta.url));
/** Importing torch takes a few seconds on a busy machine. */
const PROBE_TIMEOUT_MS = 60_000;
/** One request trains for a few seconds; a child silent this long is stuck. */
const REPLY_TIMEOUT_MS = 300_000;
const BATCH = 64;
const MODEL_SEED = 1;
const BATCH_SEED = 2;
/** Both sides train this many samples of MNIST shape per measurement (2-thread rows: twice). */
const MODELS = [
  { name: 'mlp', spec: 'mlp', steps: [100, 30], warmUp: 300 },
  { name: 'cnn (RepOpt)', spec: 'cnn', steps: [12, 4], warmUp: 30 },
] as const;
const ROUNDS = [5, 2] as const;
/**
 * Pause before each measurement: PyTorch's OpenMP and OpenBLAS threads keep spinning for a
 * while after their work, on the core the next measurement runs on (its CPU time then
 * grows from sharing the core with the spinning thread). 300 ms lets them go to sleep.
 */
const SETTLE_MS = 300;

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

export interface AnchorRow {
  readonly model: string;
  /** '1 thread': per CPU-second; '2 threads': per wall-second, meshfl with 2 pool workers. */
  readonly threads: 1 | 2;
  readonly meshflSamplesPerSecond: number;
  readonly torchSamplesPerSecond: number;
  /** Median over rounds of meshfl / PyTorch, each round's two samples taken back to back. */
  readonly ratio: number;
  readonly ratioMin: number;
  readonly ratioMax: number;
  readonly rounds: number;
}

export type TorchAnchorResult =
  | { readonly kind: 'skipped'; readonly reason: string }
  | {
      readonly kind: 'measured';
      readonly python: string;
      readonly torch: string;
      readonly batch: number;
      readonly rows: readonly AnchorRow[];
    };

/** The first Python that imports torch, or why none does. */
export function findTorchPython(
  env: NodeJS.ProcessEnv = process.env,
): { python: string; version: string } | { reason: string } {
  const chosen = env[TORCH_PYTHON_ENV];
  const candidates = chosen !== undefined && chosen !== '' ? [chosen] : [DEBIAN_PYTHON, 'python3'];
  const failures: string[] = [];
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], {
      encoding: 'utf8',
      timeout: PROBE_TIMEOUT_MS,
    });
    if (probe.status === 0) return { python, version: probe.stdout.trim() };
    const why = probe.error?.message ?? probe.stderr.trim().split('\n').at(-1) ?? `exit ${probe.status}`;
    failures.push(`${python}: ${why}`);
  }
  return {
    reason:
      `no Python imports torch (${failures.join('; ')}); install it with` +
      ` \`apt-get install python3-torch libopenblas0-pthread\` or set ${TORCH_PYTHON_ENV}`,
  };
}

interface TorchReply {
  readonly samples: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly loss: number;
}

/** One PyTorch child process with a fixed thread count, answering train requests in order. */
class TorchChild {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: Interface;
  readonly #queue: Array<(line: string) => void> = [];
  #stderr = '';
  #exited: string | undefined;

  constructor(python: string, threads: number) {
    const threadEnv = String(threads);
    this.#child = spawn(python, [ANCHOR_SCRIPT, '--threads', threadEnv], {
      env: { ...process.env, OMP_NUM_THREADS: threadEnv, OPENBLAS_NUM_THREADS: threadEnv, MKL_NUM_THREADS: threadEnv },
    });
    this.#child.stderr.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-2000);
    });
    this.#lines = createInterface({ input: this.#child.stdout });
    this.#lines.on('line', (line) => this.#queue.shift()?.(line));
    this.#child.on('exit', (code) => {
      this.#exited = `PyTorch child exited with ${code}: ${this.#stderr.trim().split('\n').slice(-3).join(' | ')}`;
      for (const waiting of this.#queue.splice(0)) waiting('');
    });
  }

  #next(): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`PyTorch child silent for ${REPLY_TIMEOUT_MS} ms`)),
        REPLY_TIMEOUT_MS,
      );
      const onLine = (line: string): void => {
        clearTimeout(timer);
        if (line === '') {
          reject(new Error(this.#exited ?? 'PyTorch child closed its output'));
          return;
        }
        const reply = JSON.parse(line) as Record<string, unknown>;
        if (typeof reply.error === 'string') reject(new Error(`PyTorch child: ${reply.error}`));
        else resolve(reply);
      };
      if (this.#exited !== undefined) onLine('');
      else this.#queue.push(onLine);
    });
  }

  async ready(): Promise<number> {
    const reply = await this.#next();
    return Number(reply.threads);
  }

  async train(model: string, steps: number): Promise<TorchReply> {
    const reply = this.#next();
    this.#child.stdin.write(`${JSON.stringify({ model, steps })}\n`);
    const r = await reply;
    for (const key of ['samples', 'wallSeconds', 'cpuSeconds', 'loss'] as const) {
      if (typeof r[key] !== 'number') throw new Error(`PyTorch child: reply without ${key}: ${JSON.stringify(r)}`);
    }
    return r as unknown as TorchReply;
  }

  close(): void {
    this.#lines.close();
    this.#child.stdin.end();
    this.#child.kill();
  }
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Samples per CPU-second of meshfl's Trainer on this thread (the whole process's CPU time). */
function meshflOneThread(trainer: Trainer, data: Dataset, steps: number): number {
  const cpu = cpuSeconds();
  const result = trainer.train(data, { steps });
  return result.samples / (cpuSeconds() - cpu);
}

/** Samples per wall-second of two pool workers training one peer each at the same time. */
async function meshflTwoWorkers(
  pool: TrainingPool,
  peers: readonly string[],
  layers: ReturnType<typeof getWeights>,
  steps: number,
): Promise<number> {
  const start = performance.now();
  // Each request brings a whole state; the pool gives them to its two free workers.
  const state = { weights: layers, velocity: null, batches: batchOrderRng(BATCH_SEED).state() };
  const trained = await Promise.all(peers.map((peer) => pool.train(peer, state, { steps })));
  const seconds = (performance.now() - start) / 1000;
  return trained.reduce((sum, t) => sum + t.result.samples, 0) / seconds;
}

function row(model: string, threads: 1 | 2, meshfl: readonly number[], torch: readonly number[]): AnchorRow {
  const ratios = meshfl.map((m, i) => m / torch[i]);
  return {
    model,
    threads,
    meshflSamplesPerSecond: median(meshfl),
    torchSamplesPerSecond: median(torch),
    ratio: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
    rounds: ratios.length,
  };
}

export async function runTorchAnchorBench(options: {
  quick: boolean;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}): Promise<TorchAnchorResult> {
  const log = options.log ?? (() => {});
  const found = findTorchPython(options.env);
  // The caller reports a skip (one line, in its table or report).
  if ('reason' in found) return { kind: 'skipped', reason: found.reason };
  log(`torch: ${found.python}, torch ${found.version}`);
  const q = options.quick ? 1 : 0;
  await initBackend('wasm');
  const mnist = loadDataset('mnist');
  const maxSamples = Math.max(...MODELS.map((m) => m.steps[q] + 1)) * BATCH;
  const train = subset(
    mnist.train,
    Array.from({ length: maxSamples }, (_, i) => i),
  );
  // The pool's copy lives in SharedArrayBuffers (sent to the workers once); the main thread
  // trains from plain arrays, as `meshfl train` does (copies out of shared memory are slower).
  const shared = sharedDataset(train);
  const torch1 = new TorchChild(found.python, 1);
  const torch2 = new TorchChild(found.python, 2);
  const pool = await TrainingPool.start({ workers: 2, backend: 'wasm' });
  try {
    const threads = await Promise.all([torch1.ready(), torch2.ready()]);
    if (threads[0] !== 1 || threads[1] !== 2) throw new Error(`PyTorch children run ${threads.join(' and ')} threads`);
    const rows: AnchorRow[] = [];
    for (const m of MODELS) {
      const steps = m.steps[q];
      const model = buildModel(defaultSpec(m.spec), train.featureShape, train.numClasses, MODEL_SEED);
      const trainer = new Trainer(model, { batchSize: BATCH, seed: BATCH_SEED });
      const layers = getWeights(model);
      // Two peers, trained at once: one on each of the two free workers.
      const peers = [`${m.spec}-a`, `${m.spec}-b`];
      for (const peer of peers) {
        await pool.register({
          peer,
          spec: model.spec,
          inputShape: model.inputShape,
          numClasses: model.numClasses,
          options: { batchSize: BATCH, seed: BATCH_SEED },
          data: shared,
        });
      }
      try {
        // Warm-up on every side: a trainer's first few hundred MLP steps grow the wasm heap
        // and run before V8's optimising tiers have compiled the JS and wasm (in the
        // background, slowly on a loaded machine): up to 2x the CPU of later steps.
        trainer.train(train, { steps: m.warmUp });
        await meshflTwoWorkers(pool, peers, layers, m.warmUp);
        await torch1.train(m.spec, m.warmUp);
        await torch2.train(m.spec, m.warmUp);
        const one = { meshfl: [] as number[], torch: [] as number[] };
        const two = { meshfl: [] as number[], torch: [] as number[] };
        for (let round = 0; round < ROUNDS[q]; round++) {
          await settle();
          one.meshfl.push(meshflOneThread(trainer, train, steps));
          await settle();
          const t1 = await torch1.train(m.spec, steps);
          one.torch.push(t1.samples / t1.cpuSeconds);
          await settle();
          two.meshfl.push(await meshflTwoWorkers(pool, peers, layers, steps));
          await settle();
          const t2 = await torch2.train(m.spec, 2 * steps);
          two.torch.push(t2.samples / t2.wallSeconds);
          log(
            `torch: ${m.name} round ${round + 1}: 1 thread ${(one.meshfl.at(-1) as number).toFixed(0)} vs` +
              ` ${(one.torch.at(-1) as number).toFixed(0)} samples/CPU-s; 2 threads ${(two.meshfl.at(-1) as number).toFixed(0)}` +
              ` vs ${(two.torch.at(-1) as number).toFixed(0)} samples/s`,
          );
        }
        rows.push(row(m.name, 1, one.meshfl, one.torch), row(m.name, 2, two.meshfl, two.torch));
      } finally {
        trainer.dispose();
        model.dispose();
      }
    }
    return { kind: 'measured', python: found.python, torch: found.version, batch: BATCH, rows };
  } finally {
    torch1.close();
    torch2.close();
    await pool.close();
  }
}

function printTable(r: TorchAnchorResult): void {
  if (r.kind === 'skipped') {
    console.log(`PyTorch anchor skipped: ${r.reason}`);
    return;
  }
  console.log(`\nPyTorch ${r.torch} (${r.python}), batch ${r.batch}\n`);
  console.log('model          threads   meshfl   PyTorch   meshfl/PyTorch (min-max)');
  for (const x of r.rows) {
    console.log(
      `${x.model.padEnd(15)}${String(x.threads).padStart(7)}${x.meshflSamplesPerSecond.toFixed(0).padStart(9)}` +
        `${x.torchSamplesPerSecond.toFixed(0).padStart(10)}   ${x.ratio.toFixed(2)} (${x.ratioMin.toFixed(2)}-${x.ratioMax.toFixed(2)})`,
    );
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const result = await runTorchAnchorBench({ quick: args.includes('--quick'), log: json ? undefined : console.log });
  if (json) console.log(JSON.stringify(result));
  else printTable(result);
}
