/**
 * Accuracy cost of each wire codec in training: the same short seeded MNIST task run through
 * the simulation runner (simulations/runner.ts, the engine of `meshfl simulate`: real Peers
 * publishing CHOCO compressed deltas through src/wire's PublicCopyEncoder) once per codec,
 * everything else equal: 8 peers, full mesh, in-process bus, default MLP, `mean` merge,
 * 8 rounds of 20 local steps, a 1000-sample test subset. Reports the final mean honest
 * accuracy, its difference to fp32 in percentage points and bytes sent per peer per round.
 *
 *   npm exec -- node simulations/bench/codec-accuracy.ts [--quick] [--json]
 *     [--seeds 1,2] [--partition iid|dirichlet:0.5] [--rounds 8] [--steps 20]
 *
 * `--quick`: one seed, 4 rounds. Peers wait for all 7 neighbours each round
 * (minFreshUpdates 7), so rounds are close to lockstep; the run is still asynchronous, so
 * the same seed can give slightly different numbers from run to run.
 */
import { initBackend } from '../../src/train/backend.ts';
import { strategyResult } from '../results.ts';
import { runStrategy } from '../runner.ts';
import { parseScenario } from '../scenario.ts';
import { buildSetup } from '../setup.ts';

export const ACCURACY_CODECS = ['fp32', 'fp16', 'int8', 'topk:0.1', 'topk:0.1+int8', 'topk:0.01+int8'] as const;

export interface CodecAccuracyOptions {
  readonly quick?: boolean;
  readonly seeds?: readonly number[];
  readonly partition?: string;
  readonly rounds?: number;
  readonly steps?: number;
  readonly peers?: number;
  readonly codecs?: readonly string[];
  readonly log?: (line: string) => void;
}

export interface CodecSeedRun {
  readonly codec: string;
  readonly seed: number;
  /** Mean over honest peers of accuracy after the last round's merge (0-1). */
  readonly finalAccuracy: number | null;
  readonly finalMin: number | null;
  readonly finalMax: number | null;
  /** Mean over rounds of bytes sent per peer (round 0 is an fp32 keyframe). */
  readonly bytesPerPeerPerRound: number;
  /** The same over the delta rounds only (round 1 on). */
  readonly deltaBytesPerPeerPerRound: number;
  readonly elapsedMs: number;
  readonly errors: number;
  readonly rejectedUpdates: number;
}

export interface CodecAccuracyRow {
  readonly codec: string;
  readonly runs: readonly CodecSeedRun[];
  /** Mean over seeds of final accuracy (0-1). */
  readonly meanAccuracy: number | null;
  /** Mean over seeds of (accuracy - fp32 accuracy on the same seed), percentage points. */
  readonly deltaPp: number | null;
  readonly perSeedDeltaPp: readonly (number | null)[];
  readonly bytesPerPeerPerRound: number;
  readonly fractionOfFp32: number;
  readonly deltaBytesPerPeerPerRound: number;
  readonly deltaFractionOfFp32: number;
}

export interface CodecAccuracyResult {
  readonly setup: Record<string, unknown>;
  readonly node: string;
  readonly rows: readonly CodecAccuracyRow[];
  readonly elapsedMs: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

async function runOne(
  codec: string,
  seed: number,
  o: Required<Omit<CodecAccuracyOptions, 'log' | 'codecs' | 'seeds'>>,
): Promise<CodecSeedRun> {
  const scenario = parseScenario({
    name: 'bench-codec-accuracy',
    dataset: 'mnist',
    model: 'mlp',
    peers: o.peers,
    partition: o.partition,
    strategies: ['mean'],
    rounds: o.rounds,
    localSteps: o.steps,
    codec,
    transport: 'inproc',
    topology: 'full',
    minFreshUpdates: o.peers - 1,
    testSubset: 1000,
    evaluateEvery: 1,
    seed,
  });
  const setup = buildSetup(scenario);
  const entry = scenario.strategies[0];
  if (entry === undefined) throw new Error('scenario without a strategy');
  const run = await runStrategy(setup, entry);
  const result = strategyResult(run);
  const acc = result.final.honestAccuracy;
  const bytes = result.rounds.map((r) => r.bytesSentPerPeer);
  return {
    codec,
    seed,
    finalAccuracy: acc?.mean ?? null,
    finalMin: acc?.min ?? null,
    finalMax: acc?.max ?? null,
    bytesPerPeerPerRound: mean(bytes),
    deltaBytesPerPeerPerRound: mean(bytes.slice(1)),
    elapsedMs: run.elapsedMs,
    errors: run.errorCount,
    rejectedUpdates: run.rejectedUpdates,
  };
}

export async function runCodecAccuracyBench(options: CodecAccuracyOptions = {}): Promise<CodecAccuracyResult> {
  const start = performance.now();
  const quick = options.quick ?? false;
  const seeds = options.seeds ?? (quick ? [1] : [1, 2]);
  const codecs = options.codecs ?? ACCURACY_CODECS;
  if (codecs[0] !== 'fp32') throw new Error('the first codec must be fp32 (the reference)');
  const o = {
    quick,
    partition: options.partition ?? 'iid',
    rounds: options.rounds ?? (quick ? 4 : 8),
    steps: options.steps ?? 20,
    peers: options.peers ?? 8,
  };
  const log = options.log ?? (() => {});
  await initBackend('wasm');
  const runs: CodecSeedRun[] = [];
  for (const seed of seeds) {
    for (const codec of codecs) {
      const r = await runOne(codec, seed, o);
      runs.push(r);
      log(
        `seed ${seed} ${codec.padEnd(15)} acc ${((r.finalAccuracy ?? Number.NaN) * 100).toFixed(2)}%` +
          `  ${Math.round(r.bytesPerPeerPerRound)} B/peer/round  ${(r.elapsedMs / 1000).toFixed(1)} s` +
          (r.errors > 0 ? `  ${r.errors} errors` : ''),
      );
    }
  }
  const fp32 = runs.filter((r) => r.codec === codecs[0]);
  const fp32Bytes = mean(fp32.map((r) => r.bytesPerPeerPerRound));
  const fp32DeltaBytes = mean(fp32.map((r) => r.deltaBytesPerPeerPerRound));
  const rows = codecs.map((codec): CodecAccuracyRow => {
    const mine = runs.filter((r) => r.codec === codec);
    const perSeedDeltaPp = mine.map((r) => {
      const ref = fp32.find((f) => f.seed === r.seed)?.finalAccuracy;
      return r.finalAccuracy === null || ref == null ? null : (r.finalAccuracy - ref) * 100;
    });
    const accs = mine.flatMap((r) => (r.finalAccuracy === null ? [] : [r.finalAccuracy]));
    const deltas = perSeedDeltaPp.filter((d): d is number => d !== null);
    const bytes = mean(mine.map((r) => r.bytesPerPeerPerRound));
    const deltaBytes = mean(mine.map((r) => r.deltaBytesPerPeerPerRound));
    return {
      codec,
      runs: mine,
      meanAccuracy: accs.length > 0 ? mean(accs) : null,
      deltaPp: deltas.length > 0 ? mean(deltas) : null,
      perSeedDeltaPp,
      bytesPerPeerPerRound: bytes,
      fractionOfFp32: bytes / fp32Bytes,
      deltaBytesPerPeerPerRound: deltaBytes,
      deltaFractionOfFp32: deltaBytes / fp32DeltaBytes,
    };
  });
  return {
    setup: {
      dataset: 'mnist',
      model: 'mlp (default 784-256-128-10)',
      peers: o.peers,
      topology: 'full',
      transport: 'inproc',
      strategy: 'mean',
      partition: o.partition,
      rounds: o.rounds,
      localSteps: o.steps,
      batchSize: 32,
      testSubset: 1000,
      minFreshUpdates: o.peers - 1,
      seeds,
    },
    node: process.version,
    rows,
    elapsedMs: performance.now() - start,
  };
}

function pct(x: number | null): string {
  return x === null ? '-' : `${(x * 100).toFixed(2)}%`;
}

function pp(x: number | null): string {
  return x === null ? '-' : `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
}

export function printCodecAccuracy(result: CodecAccuracyResult): void {
  const s = result.setup;
  console.log(
    `\nAccuracy cost per codec: MNIST ${String(s.model)}, ${String(s.peers)} peers ${String(s.partition)}, ` +
      `mean merge, ${String(s.rounds)} rounds x ${String(s.localSteps)} steps, seeds ${(s.seeds as number[]).join(',')}`,
  );
  const seeds = s.seeds as number[];
  console.log(
    `codec          ${seeds.map((x) => `acc s${x}`.padStart(9)).join('')}  mean acc  d vs fp32 (pp)   B/peer/round  of fp32  delta-round B  of fp32`,
  );
  for (const r of result.rows) {
    console.log(
      `${r.codec.padEnd(15)}${r.runs.map((x) => pct(x.finalAccuracy).padStart(9)).join('')}` +
        `${pct(r.meanAccuracy).padStart(10)}  ${pp(r.deltaPp).padStart(6)} (${r.perSeedDeltaPp.map(pp).join(', ')})`.padEnd(
          24,
        ) +
        `${String(Math.round(r.bytesPerPeerPerRound)).padStart(13)}${r.fractionOfFp32.toFixed(4).padStart(9)}` +
        `${String(Math.round(r.deltaBytesPerPeerPerRound)).padStart(15)}${r.deltaFractionOfFp32.toFixed(4).padStart(9)}`,
    );
  }
  console.log(`(${(result.elapsedMs / 1000).toFixed(0)} s, Node ${result.node})`);
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const seedsArg = flag(args, '--seeds');
  const roundsArg = flag(args, '--rounds');
  const stepsArg = flag(args, '--steps');
  const result = await runCodecAccuracyBench({
    quick: args.includes('--quick'),
    seeds: seedsArg === undefined ? undefined : seedsArg.split(',').map(Number),
    partition: flag(args, '--partition'),
    rounds: roundsArg === undefined ? undefined : Number(roundsArg),
    steps: stepsArg === undefined ? undefined : Number(stepsArg),
    log: json ? undefined : (line) => console.log(line),
  });
  if (json) console.log(JSON.stringify(result));
  else printCodecAccuracy(result);
}
