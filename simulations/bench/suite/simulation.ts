/**
 * Whole-simulation figures through the simulation runner (simulations/runner.ts, the
 * engine behind `meshfl simulate`), with real Peers:
 *  - scale: wall time per round and peak RSS per peer for many peers with a tiny model
 *    (MLP 784-16-10, 2 local steps of 16 samples, mean merge, int8 deltas), over libp2p
 *    memory and over the in-process bus;
 *  - frozen backbone vs full model: the same MNIST task (4 peers, iid, CNN, fixed rounds),
 *    once training every layer from scratch and once training only the output layer on a
 *    backbone pretrained centrally on MNIST images none of the peers hold.
 *   npm exec -- node simulations/bench/suite/simulation.ts [--quick] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../../../node/datasets.ts';
import { saveModelFile } from '../../../node/model-store.ts';
import { subset } from '../../../src/data/dataset.ts';
import { buildModel, getWeights } from '../../../src/model/model.ts';
import { defaultSpec } from '../../../src/model/spec.ts';
import { initBackend } from '../../../src/train/backend.ts';
import { Trainer } from '../../../src/train/trainer.ts';
import { strategyResult } from '../../results.ts';
import { runStrategy } from '../../runner.ts';
import { parseScenario } from '../../scenario.ts';
import { buildSetup } from '../../setup.ts';

/** RSS is sampled this often during a run; the peak over the samples is reported. */
const RSS_SAMPLE_MS = 100;
const MB = 1024 * 1024;

export interface ScaleRow {
  readonly transport: string;
  readonly peers: number;
  readonly rounds: number;
  readonly setupMs: number;
  /** (run time - setup) / rounds. */
  readonly msPerRound: number;
  /** (peak RSS during the run - RSS before it) / peers, bytes. */
  readonly rssPerPeer: number;
  readonly peakRss: number;
  readonly bytesSentPerPeerPerRound: number;
  readonly errors: number;
}

export interface ModeRow {
  readonly mode: 'full model' | 'frozen backbone (head)';
  readonly rounds: number;
  readonly msPerRound: number;
  readonly bytesSentPerPeerPerRound: number;
  readonly finalAccuracy: number | null;
  /** First round (1-based) whose mean honest accuracy reached 90 %, or null. */
  readonly roundsTo90: number | null;
  /** Head mode: central pretraining of the backbone (not part of the rounds). */
  readonly pretrainMs: number;
}

export interface SimulationBenchResult {
  readonly scale: readonly ScaleRow[];
  readonly modes: readonly ModeRow[];
  readonly modeSetup: string;
}

/** Runs `fn` while sampling RSS; returns its result and the peak RSS seen. */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peak: number; before: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, RSS_SAMPLE_MS);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, peak, before };
  } finally {
    clearInterval(timer);
  }
}

async function scaleRun(transport: 'libp2p-memory' | 'inproc', peers: number, rounds: number): Promise<ScaleRow> {
  const scenario = parseScenario({
    name: `bench-scale-${transport}-${peers}`,
    dataset: 'mnist',
    model: { kind: 'mlp', hidden: [16] },
    peers,
    partition: { kind: 'iid' },
    strategies: ['mean'],
    rounds,
    localSteps: 2,
    batchSize: 16,
    samplesPerPeer: 32,
    validationPerClass: 1,
    testSubset: 50,
    evaluateEvery: rounds,
    codec: 'int8',
    transport,
    degree: 8,
    seed: 1,
  });
  const setup = buildSetup(scenario);
  const entry = scenario.strategies[0];
  if (entry === undefined) throw new Error('scenario without a strategy');
  const { value: run, peak, before } = await withPeakRss(() => runStrategy(setup, entry));
  const result = strategyResult(run);
  return {
    transport,
    peers,
    rounds,
    setupMs: run.setupMs,
    msPerRound: (run.elapsedMs - run.setupMs) / rounds,
    rssPerPeer: (peak - before) / peers,
    peakRss: peak,
    bytesSentPerPeerPerRound: result.totalBytesSentPerPeer / rounds,
    errors: run.errorCount,
  };
}

/** Trains the default CNN centrally on MNIST images after the first `skip` and saves it. */
function pretrainBackbone(path: string, steps: number, skip: number): number {
  const mnist = loadDataset('mnist');
  const count = Math.min(steps * 64, mnist.train.y.length - skip);
  const data = subset(
    mnist.train,
    Array.from({ length: count }, (_, i) => skip + i),
  );
  const spec = defaultSpec('cnn');
  const model = buildModel(spec, data.featureShape, data.numClasses, 3);
  const trainer = new Trainer(model, { batchSize: 64, seed: 3 });
  const start = performance.now();
  try {
    trainer.train(data, { steps });
    saveModelFile(path, {
      spec,
      inputShape: data.featureShape,
      numClasses: data.numClasses,
      weights: getWeights(model),
      meta: { purpose: 'bench backbone', steps },
    });
  } finally {
    trainer.dispose();
    model.dispose();
  }
  return performance.now() - start;
}

async function modeRun(
  trainable: 'all' | 'head',
  rounds: number,
  backbone: string | undefined,
  pretrainMs: number,
): Promise<ModeRow> {
  const scenario = parseScenario({
    name: `bench-${trainable}`,
    dataset: 'mnist',
    model: 'cnn',
    trainable,
    ...(backbone === undefined ? {} : { backbone }),
    peers: 4,
    partition: { kind: 'iid' },
    strategies: ['mean'],
    rounds,
    localSteps: 10,
    batchSize: 32,
    samplesPerPeer: 640,
    testSubset: 500,
    codec: 'fp32',
    transport: 'inproc',
    seed: 1,
  });
  const entry = scenario.strategies[0];
  if (entry === undefined) throw new Error('scenario without a strategy');
  const run = await runStrategy(buildSetup(scenario), entry);
  const result = strategyResult(run);
  return {
    mode: trainable === 'all' ? 'full model' : 'frozen backbone (head)',
    rounds,
    msPerRound: (run.elapsedMs - run.setupMs) / rounds,
    bytesSentPerPeerPerRound: result.totalBytesSentPerPeer / rounds,
    finalAccuracy: result.final.honestAccuracy?.mean ?? null,
    roundsTo90: result.final.roundsTo90,
    pretrainMs,
  };
}

export async function runSimulationBench(options: {
  quick: boolean;
  log?: (line: string) => void;
}): Promise<SimulationBenchResult> {
  const log = options.log ?? (() => {});
  await initBackend('wasm');
  const scaleRounds = options.quick ? 2 : 3;
  const cases: Array<['libp2p-memory' | 'inproc', number]> = options.quick
    ? [
        ['libp2p-memory', 30],
        ['inproc', 200],
      ]
    : [
        ['libp2p-memory', 100],
        ['inproc', 1000],
      ];
  const scale: ScaleRow[] = [];
  for (const [transport, peers] of cases) {
    const row = await scaleRun(transport, peers, scaleRounds);
    scale.push(row);
    log(
      `simulation ${transport} ${peers} peers: ${row.msPerRound.toFixed(0)} ms/round (setup ${row.setupMs.toFixed(0)} ms), ` +
        `${(row.rssPerPeer / MB).toFixed(2)} MiB RSS/peer, ${row.errors} errors`,
    );
  }
  const modeRounds = options.quick ? 3 : 6;
  const pretrainSteps = options.quick ? 40 : 120;
  const dir = mkdtempSync(join(tmpdir(), 'meshfl-bench-'));
  const modes: ModeRow[] = [];
  try {
    const path = join(dir, 'backbone.mflm');
    // Peers draw from the first images (seeded); the backbone sees the last 10k only.
    const pretrainMs = pretrainBackbone(path, pretrainSteps, 50_000);
    for (const [trainable, backbone, ms] of [
      ['all', undefined, 0],
      ['head', path, pretrainMs],
    ] as const) {
      const row = await modeRun(trainable, modeRounds, backbone, ms);
      modes.push(row);
      log(
        `${row.mode}: ${row.msPerRound.toFixed(0)} ms/round, ${(row.bytesSentPerPeerPerRound / 1000).toFixed(1)} kB sent/peer/round, accuracy ${row.finalAccuracy?.toFixed(3)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const modeSetup =
    `4 peers, MNIST iid, 640 samples each, the default CNN, ${modeRounds} rounds of 10 local steps ` +
    `(batch 32), mean merge, fp32 updates, in-process bus; head mode's backbone pretrained centrally for ` +
    `${pretrainSteps} steps (batch 64) on MNIST training images 50,000+`;
  return { scale, modes, modeSetup };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const result = await runSimulationBench({ quick: args.includes('--quick'), log: json ? undefined : console.log });
  if (json) console.log(JSON.stringify(result));
}
