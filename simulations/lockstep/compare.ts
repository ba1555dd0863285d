/**
 * Compares merge strategies under attacks on real MNIST and prints Markdown tables: the
 * honest peers' final test accuracy (mean, min), the attackers' merge share and the merge
 * wall time. Every strategy x attack x seed cell is a scenario of mode "lockstep"
 * (./grid.ts), run by the scenario runner: real Peers on the in-process bus, synchronous
 * rounds, the task's codec (int8 deltas by default). `--json <file>` also writes every
 * per-seed, per-strategy, per-attack result (rewritten after each run, so a stopped run
 * keeps what it measured), for a driver to aggregate. docs/SIMULATIONS.md ("Lockstep
 * comparisons") lists the flags; simulations/scenarios/lockstep/ holds the same grid as
 * scenario files for `meshfl simulate`.
 *
 * Usage: USAGE below (`--help`).
 *
 * `oracle` is the honest-only reference: honest peers merge only honest candidates with
 * mean. Baselines that take the number of attackers are told the true one (./grid.ts).
 * Attack names are those of ./attack-set.ts (the default set), or any attack registry name
 * with default options. Takes a long time with the defaults (every strategy x attack x
 * seed): narrow them.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { AttackSpec } from '../../src/attacks/registry.ts';
import type { PartitionSpec } from '../../src/data/partition-spec.ts';
import { ORACLE_STRATEGY } from '../../src/merge/oracle.ts';
import { initBackend } from '../../src/train/backend.ts';
import type { Trainable } from '../../src/train/trainer.ts';
import { codeVersion } from '../provenance.ts';
import { runStrategy } from '../runner.ts';
import { parseScenario, ScenarioError } from '../scenario.ts';
import { buildSetup } from '../setup.ts';
import { COMPARE_ATTACKS, compareAttackSpec, NO_ATTACK } from './attack-set.ts';
import { type GridSettings, gridScenario, gridStrategy, mean, type RunRecord, runRecord } from './grid.ts';

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
/**
 * What a peer's merge validation covers: the task's public set (10 per class) plus its own
 * 10 per class ('public+own', what `meshfl simulate` does), or its own classes only.
 */
const VALIDATIONS = ['public+own', 'own-classes'] as const;
const PUBLIC_PER_CLASS = 10;
/** Samples per class of a peer's own validation split (the scenario's validationPerClass). */
const OWN_PER_CLASS = 10;
const CODECS = ['int8', 'fp32', 'fp16'] as const;

const USAGE = `node simulations/lockstep/compare.ts [--seeds 1,2,3] [--peers 10] [--rounds 10]
  [--steps 10] [--train 6000] [--hidden 64] [--trainable all|head]
  [--validation public+own|own-classes] [--public-per-class 10] [--own-per-class 10]
  [--strategies a,b] [--attacks x,y]
  [--fraction 0.3] [--alie-z z] [--partition shards|dirichlet] [--classes-per-peer 4]
  [--alpha 0.1] [--bristle-n N] [--strategy-options JSON] [--test 1000] [--codec int8]
  [--json out.json] [--merge-log merges.jsonl]
Attackers: round(fraction x peers) in every cell with an attack (e.g. 9 of 30 at 0.3),
none under the attack "none". Flags: docs/SIMULATIONS.md, "Lockstep comparisons".`;

const values = (() => {
  try {
    return parseArgs({
      options: {
        seeds: { type: 'string', default: '1,2,3' },
        peers: { type: 'string', default: '10' },
        rounds: { type: 'string', default: '10' },
        steps: { type: 'string', default: '10' },
        train: { type: 'string', default: '6000' },
        hidden: { type: 'string', default: '64' },
        trainable: { type: 'string', default: 'all' },
        validation: { type: 'string', default: 'public+own' },
        'public-per-class': { type: 'string', default: String(PUBLIC_PER_CLASS) },
        'own-per-class': { type: 'string', default: String(OWN_PER_CLASS) },
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
        codec: { type: 'string', default: 'int8' },
        'merge-log': { type: 'string' },
        json: { type: 'string' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (err) {
    console.error(`compare: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exit(2);
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

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
const validation = values.validation;
if (!(VALIDATIONS as readonly string[]).includes(validation)) fail(`--validation: one of ${VALIDATIONS.join(', ')}`);
const perClass = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 1000;
const publicPerClass = number('public-per-class', values['public-per-class'], perClass);
const ownPerClass = number('own-per-class', values['own-per-class'], perClass);
if (!(CODECS as readonly string[]).includes(values.codec)) fail(`--codec: one of ${CODECS.join(', ')}`);
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

const settings = {
  engine: 'scenario runner, mode "lockstep"',
  codec: values.codec,
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
  publicPerClass,
  ownPerClass,
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
const grid: GridSettings = {
  peers,
  attackers,
  rounds: settings.rounds,
  localSteps: settings.localSteps,
  train: settings.train,
  test: settings.test,
  hidden: settings.hidden,
  trainable: settings.trainable,
  publicValidationPerClass: validation === 'public+own' ? publicPerClass : 0,
  validationPerClass: ownPerClass,
  partition,
  codec: values.codec,
  bristleN: settings.bristleN ?? undefined,
  strategyOptions: extraOptions,
};
const runs: RunRecord[] = [];
// JSON has no NaN or Infinity: a blown-up model's max |w| is written as a string.
const finite = (_key: string, v: unknown): unknown => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);
function writeJson(done: boolean): void {
  if (values.json === undefined) return;
  const out = { command: process.argv.slice(2), settings, environment, done, runs };
  writeFileSync(values.json, `${JSON.stringify(out, finite, 1)}\n`);
}

await initBackend('wasm');
console.log(
  `lockstep (scenario runner), peers ${peers} (${attackers} attackers${attacks.includes(NO_ATTACK) ? ', 0 under none' : ''}, fraction ${fraction}${alieZ === undefined ? '' : `, ALIE z ${alieZ}`}), ` +
    `rounds ${values.rounds}, local steps ${values.steps}, MLP [${values.hidden}] trainable ${values.trainable}, ` +
    `partition ${JSON.stringify(partition)}, validation ${validation}, codec ${values.codec}, train subset ${values.train}, ` +
    `test subset ${values.test}, seeds ${seeds.join(',')}`,
);
for (const strategy of strategies) {
  for (const attack of attacks) {
    for (const seed of seeds) {
      const attackSpec = attackSpecs.get(attack);
      const strategySpec = gridStrategy(strategy, attack, grid);
      let setup: ReturnType<typeof buildSetup>;
      try {
        setup = buildSetup(parseScenario(gridScenario(grid, { strategy: strategySpec, attack, attackSpec, seed })));
      } catch (error) {
        if (error instanceof ScenarioError) fail(`${strategy} / ${attack}: ${error.message}`);
        throw error;
      }
      const entry = setup.scenario.strategies[0];
      if (entry === undefined) throw new Error('compare: a cell has one strategy');
      const run = await runStrategy(setup, entry, {
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
      });
      if (run.errorCount > 0) {
        console.error(`${strategy} / ${attack} / seed ${seed}: ${run.errorCount} errors: ${run.errors.join('; ')}`);
      }
      if (run.stalled !== undefined) fail(`${strategy} / ${attack} / seed ${seed}: the run stopped: ${run.stalled}`);
      const attackerIndices = setup.peers.filter((p) => p.attacker).map((p) => p.index);
      const r = runRecord({ strategy, strategySpec, attack, attackSpec, seed, attackers: attackerIndices }, run);
      runs.push(r);
      writeJson(false);
      console.error(
        `${strategy} / ${attack} / seed ${seed}: ${(PERCENT * r.final.mean).toFixed(1)}% ` +
          `(min ${(PERCENT * r.final.min).toFixed(1)}), attackers' share ${r.attackerShare.meanOverRounds.toFixed(3)} (last round ${r.attackerShare.final.toFixed(3)}), ` +
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
