/**
 * The lockstep comparison's grid (compare.ts) as scenarios: one strategy x attack x seed
 * cell is one scenario of mode "lockstep" (simulations/lockstep-mode.ts), run by the
 * scenario runner, and summarised as one record of compare.ts's JSON output.
 */
import type { AttackSpec } from '../../src/attacks/registry.ts';
import type { PartitionSpec } from '../../src/data/partition-spec.ts';
import type { StrategySpec } from '../../src/merge/registry.ts';
import type { Trainable } from '../../src/train/trainer.ts';
import type { PeerRound, StrategyRun } from '../runner.ts';
import { NO_ATTACK } from './attack-set.ts';

/** What every cell of a comparison shares (compare.ts's flags). */
export interface GridSettings {
  readonly peers: number;
  /** Attackers when the cell has an attack. */
  readonly attackers: number;
  readonly rounds: number;
  readonly localSteps: number;
  /** Training samples drawn (seeded) for all peers together; 0 = the whole train split. */
  readonly train: number;
  readonly test: number;
  readonly hidden: readonly number[];
  readonly trainable: Trainable;
  /** Samples per class of the task's public validation set in every merge validation (0: own classes only). */
  readonly publicValidationPerClass: number;
  /** Samples per class of each peer's own validation split, held out of its training share (default the scenario's). */
  readonly validationPerClass?: number;
  readonly partition: PartitionSpec;
  /** The task's codec ("int8": int8 deltas, what peers send by default; "fp32"). */
  readonly codec: string;
  /** Bristle's prioritiser size N (every bristle rule), when given. */
  readonly bristleN: number | undefined;
  /** Options of the default rule (bristle+ldawa), for ablations and tuning. */
  readonly strategyOptions: Readonly<Record<string, unknown>>;
}

/** MNIST training split size: `train` at or above it means the whole split. */
const MNIST_TRAIN = 60_000;

/**
 * A strategy of one cell. Robust baselines are told the true number of attackers, so they
 * are not handicapped by a guess: krum f, trimmed-mean b, clipped-gossip
 * byzantineFraction; centered-clipping runs with tau "auto" (its fixed default never clips).
 */
export function gridStrategy(name: string, attack: string, g: GridSettings): StrategySpec {
  const f = attack === NO_ATTACK ? 0 : g.attackers;
  switch (name) {
    case 'krum':
      return { name, options: { f } };
    case 'trimmed-mean':
      return { name, options: { b: f } };
    case 'clipped-gossip':
      return { name, options: { byzantineFraction: f / (g.peers - 1) } };
    case 'centered-clipping':
      return { name, options: { tau: 'auto' } };
    default: {
      const options = {
        ...(name === 'bristle+ldawa' ? g.strategyOptions : {}),
        ...(name.startsWith('bristle') && g.bristleN !== undefined ? { N: g.bristleN } : {}),
      };
      return Object.keys(options).length > 0 ? { name, options } : name;
    }
  }
}

/** The scenario (unparsed, as a file would hold it) of one cell. */
export function gridScenario(
  g: GridSettings,
  cell: {
    readonly strategy: StrategySpec;
    readonly attack: string;
    readonly attackSpec: AttackSpec | undefined;
    readonly seed: number;
  },
): Record<string, unknown> {
  const spec = cell.attackSpec;
  const attack = spec === undefined ? undefined : typeof spec === 'string' ? { name: spec, options: {} } : spec;
  const strategy =
    typeof cell.strategy === 'string'
      ? cell.strategy
      : { name: cell.strategy.name, options: cell.strategy.options ?? {} };
  const wholeSplit = g.train <= 0 || g.train >= MNIST_TRAIN;
  return {
    name: `lockstep-${cell.attack}`,
    mode: 'lockstep',
    dataset: 'mnist',
    model: { kind: 'mlp', hidden: [...g.hidden] },
    trainable: g.trainable,
    peers: g.peers,
    ...(wholeSplit ? {} : { samplesPerPeer: Math.floor(g.train / g.peers) }),
    partition: g.partition,
    ...(attack === undefined || g.attackers === 0
      ? {}
      : { byzantine: { count: g.attackers, attack: attack.name, options: attack.options ?? {} } }),
    strategies: [strategy],
    rounds: g.rounds,
    localSteps: g.localSteps,
    codec: g.codec,
    publicValidationPerClass: g.publicValidationPerClass,
    ...(g.validationPerClass === undefined ? {} : { validationPerClass: g.validationPerClass }),
    testSubset: g.test,
    seed: cell.seed,
  };
}

/** One run of compare.ts's JSON output. Accuracies and shares are fractions (0..1). */
export interface RunRecord {
  readonly strategy: string;
  readonly strategySpec: StrategySpec;
  readonly attack: string;
  readonly attackSpec: AttackSpec | null;
  readonly seed: number;
  readonly attackers: readonly number[];
  /** Honest peers' accuracy after the last round's merge. */
  readonly final: { readonly mean: number; readonly min: number; readonly max: number };
  /** Attackers' share of the honest peers' merges: last round, and mean over rounds. */
  readonly attackerShare: { readonly final: number; readonly meanOverRounds: number };
  /** Wall ms of one honest peer's merge: mean and median over rounds (of the per-round mean over peers). */
  readonly mergeMs: { readonly meanPerRound: number; readonly medianPerRound: number };
  /** Largest |w| of the honest models after the last round, and over all rounds. */
  readonly honestMaxAbs: { readonly final: number; readonly max: number };
  readonly rounds: readonly {
    readonly round: number;
    readonly honestMean: number;
    readonly honestMin: number;
    readonly attackerShare: number;
    readonly honestMaxAbs: number;
    readonly mergeMs: number;
  }[];
  readonly elapsedMs: number;
}

export const mean = (xs: readonly number[]): number => xs.reduce((s, v) => s + v, 0) / Math.max(1, xs.length);

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/** Largest value; NaN when any is NaN (a blown-up model). */
const maxOf = (xs: readonly number[]): number => (xs.some(Number.isNaN) ? Number.NaN : Math.max(...xs));

/** The per-round summary over honest peers of one lockstep run. */
function roundsOf(records: readonly PeerRound[]): RunRecord['rounds'] {
  const byRound = new Map<number, PeerRound[]>();
  for (const r of records) byRound.set(r.round, [...(byRound.get(r.round) ?? []), r]);
  return [...byRound.keys()]
    .sort((a, b) => a - b)
    .map((round) => {
      const list = byRound.get(round) as PeerRound[];
      const accuracy = list.map((r) => r.merged?.overall ?? Number.NaN);
      return {
        round,
        honestMean: mean(accuracy),
        honestMin: Math.min(...accuracy),
        attackerShare: mean(list.map((r) => r.byzantineShare ?? 0)),
        honestMaxAbs: maxOf(list.map((r) => r.maxAbs ?? Number.NaN)),
        mergeMs: mean(list.map((r) => r.mergeMs ?? Number.NaN)),
      };
    });
}

/** compare.ts's record of one cell's run. */
export function runRecord(
  cell: {
    readonly strategy: string;
    readonly strategySpec: StrategySpec;
    readonly attack: string;
    readonly attackSpec: AttackSpec | undefined;
    readonly seed: number;
    readonly attackers: readonly number[];
  },
  run: StrategyRun,
): RunRecord {
  const rounds = roundsOf(run.records);
  const last = rounds.at(-1);
  if (last === undefined)
    throw new Error(`lockstep ${cell.strategy} / ${cell.attack} / seed ${cell.seed}: no round ran`);
  const lastRecords = run.records.filter((r) => r.round === last.round);
  const maxAbs = rounds.map((x) => x.honestMaxAbs);
  return {
    strategy: cell.strategy,
    strategySpec: cell.strategySpec,
    attack: cell.attack,
    attackSpec: cell.attackSpec ?? null,
    seed: cell.seed,
    attackers: cell.attackers,
    final: {
      mean: last.honestMean,
      min: last.honestMin,
      max: Math.max(...lastRecords.map((r) => r.merged?.overall ?? Number.NaN)),
    },
    attackerShare: { final: last.attackerShare, meanOverRounds: mean(rounds.map((x) => x.attackerShare)) },
    mergeMs: { meanPerRound: mean(rounds.map((x) => x.mergeMs)), medianPerRound: median(rounds.map((x) => x.mergeMs)) },
    honestMaxAbs: { final: last.honestMaxAbs, max: maxOf(maxAbs) },
    rounds,
    elapsedMs: run.elapsedMs,
  };
}
