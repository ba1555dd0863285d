/**
 * Compares merge strategies under attacks with lockstep runs on real MNIST and prints
 * Markdown tables: the honest peers' final test accuracy (mean, min), the attackers' merge
 * share and the merge wall time. `--json <file>` also writes every per-seed, per-strategy,
 * per-attack result (rewritten after each run, so a stopped run keeps what it measured),
 * for a driver to aggregate. docs/SIMULATIONS.md ("Lockstep comparisons") lists the flags.
 *
 *   node simulations/lockstep/compare.ts [--seeds 1,2,3] [--peers 10] [--rounds 10] \
 *     [--steps 10] [--train 6000] [--hidden 64] [--trainable all|head] \
 *     [--validation public+own|own-classes|all-classes] [--strategies a,b] [--attacks x,y] \
 *     [--fraction 0.3] [--alie-z z] [--partition shards|dirichlet] [--classes-per-peer 4] \
 *     [--alpha 0.1] [--bristle-n N] [--strategy-options JSON] [--test 1000] [--json out.json] \
 *     [--merge-log merges.jsonl]
 *
 * `oracle` is the honest-only reference: honest peers merge only honest candidates with
 * mean. Baselines that take the number of attackers are told the true one: krum f,
 * trimmed-mean b, clipped-gossip byzantineFraction; centered-clipping runs with tau "auto"
 * (the median candidate distance), since its fixed default never clips. Attack names are
 * those of ./attack-set.ts (the default set), or any attack registry name with default options.
 * Takes a long time with the defaults (every strategy x attack x seed): narrow them.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { loadDataset } from '../../node/datasets.ts';
import type { AttackSpec } from '../../src/attacks/registry.ts';
import type { PartitionSpec } from '../../src/data/partition-spec.ts';
import { ORACLE_STRATEGY } from '../../src/merge/oracle.ts';
import type { StrategySpec } from '../../src/merge/registry.ts';
import type { Trainable } from '../../src/train/trainer.ts';
import { codeVersion } from '../provenance.ts';
import { COMPARE_ATTACKS, compareAttackSpec, NO_ATTACK } from './attack-set.ts';
import { MERGE_VALIDATIONS, type MergeValidation } from './config.ts';
import { type LockstepResult, runLockstep, seededSubset } from './run.ts';

const DEFAULT_STRATEGIES = [
  'bristle+ldawa',
  ORACLE_STRATEGY,
  'mean',
  'median',
  'trimmed-mean',
  'krum',
  'centered-clipping',
  'clipped-gossip',
].join(',');
const DEFAULT_ATTACKS = [NO_ATTACK, ...Object.keys(COMPARE_ATTACKS)].join(',');
const PERCENT = 100;
const PARTITIONS = ['shards', 'dirichlet'] as const;

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1,2,3' },
    peers: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '10' },
    steps: { type: 'string', default: '10' },
    train: { type: 'string', default: '6000' },
    hidden: { type: 'string', default: '64' },
    trainable: { type: 'string', default: 'all' },
    validation: { type: 'string', default: 'public+own' },
    strategies: { type: 'string', default: DEFAULT_STRATEGIES },
    attacks: { type: 'string', default: DEFAULT_ATTACKS },
    test: { type: 'string', default: '1000' },
    fraction: { type: 'string', default: '0.3' },
    'alie-z': { type: 'string' },
    partition: { type: 'string', default: 'shards' },
    'classes-per-peer': { type: 'string', default: '4' },
    alpha: { type: 'string', default: '0.1' },
    'bristle-n': { type: 'string' },
    'strategy-options': { type: 'string' },
    'merge-log': { type: 'string' },
    json: { type: 'string' },
  },
});

function fail(message: string): never {
  console.error(`compare: ${message}`);
  process.exit(2);
}

function number(flag: string, text: string | undefined, ok: (v: number) => boolean): number {
  const v = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(v) || !ok(v)) {
    fail(`--${flag}: bad value ${JSON.stringify(text)}`);
  }
  return v;
}

const list = (s: string): string[] => s.split(',').filter((x) => x.length > 0);
const peers = number('peers', values.peers, (v) => Number.isInteger(v) && v >= 2);
const fraction = number('fraction', values.fraction, (v) => v >= 0 && v < 1);
const attackers = Math.round(fraction * peers);
if (attackers >= peers) fail(`--fraction ${fraction} leaves no honest peer among ${peers}`);
const alieZ = values['alie-z'] === undefined ? undefined : number('alie-z', values['alie-z'], () => true);
const validation = values.validation as MergeValidation;
if (!MERGE_VALIDATIONS.includes(validation)) fail(`--validation: one of ${MERGE_VALIDATIONS.join(', ')}`);
if (!(PARTITIONS as readonly string[]).includes(values.partition)) fail(`--partition: one of ${PARTITIONS.join(', ')}`);
const partition: PartitionSpec =
  values.partition === 'dirichlet'
    ? { kind: 'dirichlet', alpha: number('alpha', values.alpha, (v) => v > 0) }
    : {
        kind: 'shards',
        classesPerPeer: number('classes-per-peer', values['classes-per-peer'], (v) => Number.isInteger(v) && v >= 1),
      };
const seeds = list(values.seeds).map((s) => number('seeds', s, Number.isInteger));
const strategies = list(values.strategies);
/** --strategy-options: a JSON object of bristle+ldawa options (for ablations and tuning). */
const extraOptions: Record<string, unknown> = (() => {
  const text = values['strategy-options'];
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    fail(`--strategy-options: not JSON: ${text}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    fail('--strategy-options: must be a JSON object');
  }
  return parsed as Record<string, unknown>;
})();
const attacks = list(values.attacks);
const attackSpecs = new Map<string, AttackSpec | undefined>();
for (const a of attacks) {
  try {
    attackSpecs.set(a, compareAttackSpec(a, alieZ));
  } catch (error) {
    fail(`--attacks: ${(error as Error).message}`);
  }
}

/** Robust baselines told the true number of attackers, so they are not handicapped by a guess. */
function strategySpec(name: string, attack: string): StrategySpec {
  const f = attack === NO_ATTACK ? 0 : attackers;
  switch (name) {
    case 'krum':
      return { name, options: { f } };
    case 'trimmed-mean':
      return { name, options: { b: f } };
    case 'clipped-gossip':
      return { name, options: { byzantineFraction: f / (peers - 1) } };
    case 'centered-clipping':
      return { name, options: { tau: 'auto' } };
    default: {
      // --bristle-n: Bristle's prioritiser size N; --strategy-options: options of the
      // default rule (the strategy factory validates them).
      const options = {
        ...(name === 'bristle+ldawa' ? extraOptions : {}),
        ...(name.startsWith('bristle') && values['bristle-n'] !== undefined ? { N: Number(values['bristle-n']) } : {}),
      };
      return Object.keys(options).length > 0 ? { name, options } : name;
    }
  }
}

const mean = (xs: readonly number[]): number => xs.reduce((s, v) => s + v, 0) / Math.max(1, xs.length);
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? (s[mid] as number)
      : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** One run of the JSON output. Accuracies and shares are fractions (0..1). */
interface RunRecord {
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

function record(strategy: string, spec: StrategySpec, attack: string, seed: number, r: LockstepResult): RunRecord {
  const maxAbs = r.rounds.map((x) => x.honestMaxAbs);
  return {
    strategy,
    strategySpec: spec,
    attack,
    attackSpec: attackSpecs.get(attack) ?? null,
    seed,
    attackers: r.attackers,
    final: r.final.honestAccuracy,
    attackerShare: { final: r.final.attackerShare, meanOverRounds: mean(r.rounds.map((x) => x.attackerShare)) },
    mergeMs: { meanPerRound: mean(r.mergeMs), medianPerRound: median(r.mergeMs) },
    honestMaxAbs: {
      final: r.final.honestMaxAbs,
      max: maxAbs.some(Number.isNaN) ? Number.NaN : Math.max(r.final.honestMaxAbs, ...maxAbs),
    },
    rounds: r.rounds.map((x, i) => ({
      round: x.round,
      honestMean: x.honestAccuracy.mean,
      honestMin: x.honestAccuracy.min,
      attackerShare: x.attackerShare,
      honestMaxAbs: x.honestMaxAbs,
      mergeMs: r.mergeMs[i] as number,
    })),
    elapsedMs: r.elapsedMs,
  };
}

const settings = {
  peers,
  attackers,
  fraction,
  alieZ: alieZ ?? null,
  rounds: Number(values.rounds),
  localSteps: Number(values.steps),
  train: Number(values.train),
  test: Number(values.test),
  hidden: list(values.hidden).map(Number),
  trainable: values.trainable as Trainable,
  validation,
  partition,
  seeds,
  strategies,
  attacks,
  bristleN: values['bristle-n'] === undefined ? null : Number(values['bristle-n']),
  strategyOptions: extraOptions,
};
const environment = {
  node: process.version,
  ...codeVersion(),
  cpus: os.cpus().length,
  loadavg: os.loadavg(),
  startedAt: new Date().toISOString(),
};
const runs: RunRecord[] = [];
// JSON has no NaN or Infinity: a blown-up model's max |w| is written as a string.
const finite = (_key: string, v: unknown): unknown => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);
function writeJson(done: boolean): void {
  if (values.json === undefined) return;
  const out = { command: process.argv.slice(2), settings, environment, done, runs };
  writeFileSync(values.json, `${JSON.stringify(out, finite, 1)}\n`);
}

const mnist = loadDataset('mnist');
console.log(
  `peers ${peers} (${attackers} attackers, fraction ${fraction}${alieZ === undefined ? '' : `, ALIE z ${alieZ}`}), ` +
    `rounds ${values.rounds}, local steps ${values.steps}, MLP [${values.hidden}] trainable ${values.trainable}, ` +
    `partition ${JSON.stringify(partition)}, validation ${validation}, train subset ${values.train}, ` +
    `test subset ${values.test}, seeds ${seeds.join(',')}`,
);
for (const strategy of strategies) {
  for (const attack of attacks) {
    for (const seed of seeds) {
      const spec = attackSpecs.get(attack);
      const strategyOptions = strategySpec(strategy, attack);
      const result = await runLockstep(
        {
          dataset: { train: seededSubset(mnist.train, settings.train, seed), test: mnist.test },
          model: { kind: 'mlp', hidden: settings.hidden },
          trainable: settings.trainable,
          peers,
          partition,
          mergeValidation: validation,
          byzantine: spec === undefined || attackers === 0 ? undefined : { count: attackers, attack: spec },
          strategy: strategyOptions,
          rounds: settings.rounds,
          localSteps: settings.localSteps,
          seed,
          testSubset: settings.test,
        },
        {
          // --merge-log: one JSON line per honest merge (who was used, who rejected and why).
          ...(values['merge-log'] === undefined
            ? {}
            : {
                onMerge: (peer, round, report) =>
                  appendFileSync(
                    values['merge-log'] as string,
                    `${JSON.stringify({ strategy, attack, seed, peer, round, report })}\n`,
                  ),
              }),
        },
      );
      const r = record(strategy, strategyOptions, attack, seed, result);
      runs.push(r);
      writeJson(false);
      console.error(
        `${strategy} / ${attack} / seed ${seed}: ${(PERCENT * r.final.mean).toFixed(1)}% ` +
          `(min ${(PERCENT * r.final.min).toFixed(1)}), attackers' share ${r.attackerShare.final.toFixed(3)}, ` +
          `merge ${r.mergeMs.meanPerRound.toFixed(1)} ms, max |w| ${r.honestMaxAbs.final.toExponential(2)}, ` +
          `${(r.elapsedMs / 1000).toFixed(1)} s`,
      );
    }
  }
}
writeJson(true);

/** Mean over seeds of `pick` for one strategy and attack. */
function cell(strategy: string, attack: string, pick: (r: RunRecord) => number): number {
  return mean(runs.filter((r) => r.strategy === strategy && r.attack === attack).map(pick));
}

function table(title: string, format: (strategy: string, attack: string) => string): void {
  console.log(`\n${title}\n`);
  console.log(`| strategy | ${attacks.join(' | ')} |`);
  console.log(`|---|${attacks.map(() => '---').join('|')}|`);
  for (const s of strategies) console.log(`| ${s} | ${attacks.map((a) => format(s, a)).join(' | ')} |`);
}

table('Honest final accuracy, % (min over honest peers in parentheses), mean over seeds', (s, a) => {
  const acc = (PERCENT * cell(s, a, (r) => r.final.mean)).toFixed(1);
  return `${acc} (${(PERCENT * cell(s, a, (r) => r.final.min)).toFixed(1)})`;
});
table("Attackers' merge share, mean over rounds and seeds", (s, a) =>
  cell(s, a, (r) => r.attackerShare.meanOverRounds).toFixed(3),
);
table('Merge wall ms per honest peer, mean over rounds and seeds', (s, a) =>
  cell(s, a, (r) => r.mergeMs.meanPerRound).toFixed(1),
);
