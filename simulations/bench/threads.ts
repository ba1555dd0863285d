/**
 * One model on 1 thread against 2 (data-parallel replicas, node/data-parallel), in one process.
 *   npm run bench:threads [-- --quick] [-- --json] [-- --models mlp,cnn] [-- --no-accuracy]
 *     [-- --sync-every k[,k2...]]
 *
 * Throughput: `meshfl train`'s settings (batch 64, lr 0.05, momentum 0.9, MNIST), the same
 * number of steps on the main thread's Trainer and on a ParallelTraining of two replicas,
 * alternated (1, 2, 1, 2, ...), so each round's ratio compares two runs back to back on a
 * shared machine; the median ratio is reported with the 1-minute load average of each
 * round. Also per run the process CPU time (process.cpuUsage: every thread) per sample:
 * 2 threads / 1 thread is what splitting costs in CPU (gradient exchange, barrier, smaller
 * matrix products); on an idle machine with W cores the wall-clock speed-up is at most
 * W / that ratio, and on a loaded one every step also waits for the slower replica to be
 * scheduled, which the wall ratio shows and the CPU ratio does not.
 *
 * Accuracy (full run; --no-accuracy skips it): one epoch of MNIST, the default MLP, seed 1,
 * on 1 and on 2 threads: test accuracy of both (issue 17: the same within 0.3 points).
 *
 * The replicas synchronise every `--sync-every` steps (1: gradients summed every step, the
 * updates of one thread; k >= 2: local SGD), by default every defaultSyncEvery(model); with
 * a list, one group and one row per k, each round timing 1 thread then every group (the
 * accuracy run uses the first k).
 */
import os from 'node:os';
import { ParallelTraining } from '../../node/data-parallel/parallel-training.ts';
import { checkSyncEvery, defaultSyncEvery } from '../../node/data-parallel/threads.ts';
import { loadDataset } from '../../node/datasets.ts';
import type { Dataset } from '../../src/data/dataset.ts';
import { buildModel } from '../../src/model/model.ts';
import { defaultSpec } from '../../src/model/spec.ts';
import { initBackend } from '../../src/train/backend.ts';
import { Trainer, type TrainerOptions } from '../../src/train/trainer.ts';
import { median } from './suite/alternate.ts';

const BATCH = 64;
const OPTIONS: TrainerOptions = { batchSize: BATCH, seed: 1, optimizer: { learningRate: 0.05, momentum: 0.9 } };
const MODEL_SEED = 1;
const REPLICAS = 2;

interface ModelPlan {
  readonly model: string;
  /** Steps per timed run: [full, --quick]. */
  readonly steps: readonly [number, number];
  readonly rounds: readonly [number, number];
}

const PLANS: readonly ModelPlan[] = [
  { model: 'mlp', steps: [200, 60], rounds: [7, 3] },
  { model: 'cnn', steps: [16, 6], rounds: [5, 2] },
];

export interface ThreadsRound {
  readonly load: number;
  readonly samplesPerSecond1: number;
  readonly samplesPerSecond2: number;
  /** Wall-clock speed-up of 2 threads over 1 in this round. */
  readonly ratio: number;
  /** Process CPU ms per sample, 2 threads / 1 thread. */
  readonly cpuRatio: number;
}

export interface ThreadsRow {
  readonly model: string;
  /** Steps between the replicas' synchronisations. */
  readonly syncEvery: number;
  readonly batch: number;
  readonly stepsPerRun: number;
  readonly rounds: readonly ThreadsRound[];
  readonly medianRatio: number;
  readonly medianCpuRatio: number;
  readonly medianSamplesPerSecond1: number;
  readonly medianSamplesPerSecond2: number;
  /** Time to start the replicas (two tfjs backends and models). */
  readonly startMs: number;
}

export interface ThreadsAccuracy {
  readonly model: string;
  readonly syncEvery: number;
  readonly epochs: number;
  readonly accuracy1: number;
  readonly accuracy2: number;
  /** Percentage points, 2 threads - 1 thread. */
  readonly differencePoints: number;
  readonly seconds1: number;
  readonly seconds2: number;
  readonly load: number;
}

export interface ThreadsBenchResult {
  readonly quick: boolean;
  readonly node: string;
  readonly cores: number;
  readonly loadStart: number;
  readonly loadEnd: number;
  readonly rows: readonly ThreadsRow[];
  readonly accuracy: ThreadsAccuracy | undefined;
}

const load = () => os.loadavg()[0] ?? 0;

function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

function newTrainer(model: string, data: Dataset): Trainer {
  const spec = defaultSpec(model);
  const inputShape = spec.kind === 'mlp' ? [data.featureShape.reduce((a, b) => a * b, 1)] : [...data.featureShape];
  return new Trainer(buildModel(spec, inputShape, data.numClasses, MODEL_SEED), OPTIONS);
}

/**
 * One row per entry of `syncEvery` (default: the model's default), each round measuring 1
 * thread, then every group, back to back.
 */
async function throughput(
  plan: ModelPlan,
  data: Dataset,
  quick: boolean,
  syncEvery: readonly number[] | undefined,
  log: (l: string) => void,
): Promise<ThreadsRow[]> {
  const steps = plan.steps[quick ? 1 : 0];
  const roundsWanted = plan.rounds[quick ? 1 : 0];
  const alone = newTrainer(plan.model, data);
  const owners: Trainer[] = [];
  const groups: { group: ParallelTraining; startMs: number; rounds: ThreadsRound[] }[] = [];
  try {
    for (const k of syncEvery ?? [defaultSyncEvery(defaultSpec(plan.model))]) {
      const owner = newTrainer(plan.model, data);
      owners.push(owner);
      const t0 = performance.now();
      const group = await ParallelTraining.start({
        replicas: REPLICAS,
        backend: 'wasm',
        trainer: owner,
        options: OPTIONS,
        syncEvery: k,
      });
      groups.push({ group, startMs: performance.now() - t0, rounds: [] });
    }
    // Warm-up: kernel set-up, the shared copy of the data set.
    await alone.trainAsync(data, { steps: 2 }, { yieldEvery: 16 });
    for (const g of groups) await g.group.trainAsync(data, { steps: 2 });
    for (let r = 0; r < roundsWanted; r++) {
      const l = load();
      let c = process.cpuUsage();
      let w = performance.now();
      await alone.trainAsync(data, { steps }, { yieldEvery: 16 });
      const wall1 = performance.now() - w;
      const cpu1 = cpuMs(c);
      for (const g of groups) {
        c = process.cpuUsage();
        w = performance.now();
        await g.group.trainAsync(data, { steps });
        const wall2 = performance.now() - w;
        const cpu2 = cpuMs(c);
        const samples = steps * BATCH;
        const round: ThreadsRound = {
          load: l,
          samplesPerSecond1: samples / (wall1 / 1000),
          samplesPerSecond2: samples / (wall2 / 1000),
          ratio: wall1 / wall2,
          cpuRatio: cpu2 / cpu1,
        };
        g.rounds.push(round);
        log(
          `threads ${plan.model} (sync every ${g.group.syncEvery}) round ${r + 1}/${roundsWanted}: 1 thread ${round.samplesPerSecond1.toFixed(0)} samples/s, ` +
            `2 threads ${round.samplesPerSecond2.toFixed(0)} (${round.ratio.toFixed(2)}x), CPU per sample 2/1 ${round.cpuRatio.toFixed(2)}, load ${l.toFixed(1)}`,
        );
      }
    }
    return groups.map(({ group, startMs, rounds }) => ({
      model: plan.model,
      syncEvery: group.syncEvery,
      batch: BATCH,
      stepsPerRun: steps,
      rounds,
      medianRatio: median(rounds.map((r) => r.ratio)),
      medianCpuRatio: median(rounds.map((r) => r.cpuRatio)),
      medianSamplesPerSecond1: median(rounds.map((r) => r.samplesPerSecond1)),
      medianSamplesPerSecond2: median(rounds.map((r) => r.samplesPerSecond2)),
      startMs,
    }));
  } finally {
    await Promise.all(groups.map((g) => g.group.close()));
    for (const t of [alone, ...owners]) {
      t.dispose();
      t.model.dispose();
    }
  }
}

async function accuracy(
  train: Dataset,
  test: Dataset,
  syncEvery: number | undefined,
  log: (l: string) => void,
): Promise<ThreadsAccuracy> {
  const l = load();
  const alone = newTrainer('mlp', train);
  const owner = newTrainer('mlp', train);
  const group = await ParallelTraining.start({
    replicas: REPLICAS,
    backend: 'wasm',
    trainer: owner,
    options: OPTIONS,
    syncEvery: syncEvery ?? defaultSyncEvery(defaultSpec('mlp')),
  });
  try {
    let t = performance.now();
    await alone.trainAsync(train, { epochs: 1 }, { yieldEvery: 16 });
    const seconds1 = (performance.now() - t) / 1000;
    t = performance.now();
    await group.trainAsync(train, { epochs: 1 });
    const seconds2 = (performance.now() - t) / 1000;
    const accuracy1 = alone.evaluate(test).overallAccuracy;
    const accuracy2 = owner.evaluate(test).overallAccuracy;
    const r = {
      model: 'mlp',
      syncEvery: group.syncEvery,
      epochs: 1,
      accuracy1,
      accuracy2,
      differencePoints: (accuracy2 - accuracy1) * 100,
      seconds1,
      seconds2,
      load: l,
    };
    log(
      `threads accuracy, mlp 1 epoch (sync every ${group.syncEvery}): 1 thread ${(accuracy1 * 100).toFixed(2)}% (${seconds1.toFixed(1)} s), ` +
        `2 threads ${(accuracy2 * 100).toFixed(2)}% (${seconds2.toFixed(1)} s), load ${l.toFixed(1)}`,
    );
    return r;
  } finally {
    await group.close();
    for (const t of [alone, owner]) {
      t.dispose();
      t.model.dispose();
    }
  }
}

export async function runThreadsBench(options: {
  quick: boolean;
  models?: readonly string[];
  accuracy?: boolean;
  /** Steps between synchronisations, one throughput row each; default defaultSyncEvery(model). The accuracy run uses the first. */
  syncEvery?: readonly number[];
  log?: (line: string) => void;
}): Promise<ThreadsBenchResult> {
  const log = options.log ?? (() => {});
  await initBackend('wasm');
  const loadStart = load();
  const { train, test } = loadDataset('mnist');
  const wanted = options.models ?? (options.quick ? ['mlp'] : PLANS.map((p) => p.model));
  const rows: ThreadsRow[] = [];
  for (const plan of PLANS)
    if (wanted.includes(plan.model))
      rows.push(...(await throughput(plan, train, options.quick, options.syncEvery, log)));
  const acc =
    (options.accuracy ?? !options.quick) ? await accuracy(train, test, options.syncEvery?.[0], log) : undefined;
  return {
    quick: options.quick,
    node: process.version,
    cores: os.availableParallelism(),
    loadStart,
    loadEnd: load(),
    rows,
    accuracy: acc,
  };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const modelsAt = args.indexOf('--models');
  const models = modelsAt >= 0 ? (args[modelsAt + 1] ?? '').split(',').filter((m) => m !== '') : undefined;
  for (const m of models ?? []) {
    if (!PLANS.some((p) => p.model === m)) throw new Error(`--models: unknown model "${m}" (known: mlp, cnn)`);
  }
  const syncAt = args.indexOf('--sync-every');
  const syncEvery =
    syncAt >= 0 ? (args[syncAt + 1] ?? '').split(',').map((k) => checkSyncEvery(Number(k), '--sync-every')) : undefined;
  const result = await runThreadsBench({
    ...(syncEvery === undefined ? {} : { syncEvery }),
    quick: args.includes('--quick'),
    ...(models === undefined ? {} : { models }),
    ...(args.includes('--no-accuracy') ? { accuracy: false } : {}),
    log: json ? undefined : console.log,
  });
  if (json) console.log(JSON.stringify(result));
}
