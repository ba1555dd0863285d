/**
 * Compares merge strategies under attacks with lockstep runs on real MNIST and prints a
 * Markdown table of the honest peers' final test accuracy (mean, min).
 *
 *   node simulations/lockstep/compare.ts [--seeds 1,2] [--peers 10] [--rounds 10] \
 *     [--steps 10] [--train 6000] [--hidden 64] [--trainable all|head] \
 *     [--validation own-classes|all-classes] [--strategies a,b] [--attacks x,y] [--bristle-n N]
 *
 * Baselines that take the number of attackers get it (oracle f): krum f, trimmed-mean b,
 * clipped-gossip byzantineFraction. Takes a few minutes with the defaults.
 */
import { parseArgs } from 'node:util';
import { loadDataset } from '../../node/datasets.ts';
import type { StrategySpec } from '../../src/merge/registry.ts';
import type { Trainable } from '../../src/train/trainer.ts';
import type { MergeValidation } from './config.ts';
import { runLockstep, seededSubset } from './run.ts';

const DEFAULT_STRATEGIES = 'bristle+ldawa,mean,median,trimmed-mean,krum,centered-clipping,clipped-gossip';
const DEFAULT_ATTACKS = 'none,alie,label-flip,sign-flip';
const BYZANTINE_FRACTION = 0.3;
const PERCENT = 100;

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1,2' },
    peers: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '10' },
    steps: { type: 'string', default: '10' },
    train: { type: 'string', default: '6000' },
    hidden: { type: 'string', default: '64' },
    trainable: { type: 'string', default: 'all' },
    validation: { type: 'string', default: 'own-classes' },
    strategies: { type: 'string', default: DEFAULT_STRATEGIES },
    attacks: { type: 'string', default: DEFAULT_ATTACKS },
    test: { type: 'string', default: '1000' },
    'bristle-n': { type: 'string' },
  },
});

const list = (s: string): string[] => s.split(',').filter((x) => x.length > 0);
const peers = Number(values.peers);
const attackers = Math.round(BYZANTINE_FRACTION * peers);

/** Robust baselines told the true number of attackers, so they are not handicapped by a guess. */
function strategySpec(name: string, attack: string): StrategySpec {
  const f = attack === 'none' ? 0 : attackers;
  switch (name) {
    case 'krum':
      return { name, options: { f } };
    case 'trimmed-mean':
      return { name, options: { b: f } };
    case 'clipped-gossip':
      return { name, options: { byzantineFraction: f / (peers - 1) } };
    default:
      // --bristle-n: Bristle's prioritiser size N (default the paper's 10).
      return name.startsWith('bristle') && values['bristle-n'] !== undefined
        ? { name, options: { N: Number(values['bristle-n']) } }
        : name;
  }
}

const mnist = loadDataset('mnist');
const rows: string[] = [];
const attacks = list(values.attacks);
console.log(
  `peers ${peers} (${attackers} attackers), rounds ${values.rounds}, local steps ${values.steps}, ` +
    `MLP [${values.hidden}] trainable ${values.trainable}, validation ${values.validation}, ` +
    `train subset ${values.train}, test subset ${values.test}, seeds ${values.seeds}`,
);
for (const strategy of list(values.strategies)) {
  const cells: string[] = [];
  for (const attack of attacks) {
    const finals: number[] = [];
    const mins: number[] = [];
    for (const seed of list(values.seeds).map(Number)) {
      const result = await runLockstep({
        dataset: { train: seededSubset(mnist.train, Number(values.train), seed), test: mnist.test },
        model: { kind: 'mlp', hidden: list(values.hidden).map(Number) },
        trainable: values.trainable as Trainable,
        peers,
        partition: { kind: 'shards', classesPerPeer: 4 },
        mergeValidation: values.validation as MergeValidation,
        byzantine: attack === 'none' ? undefined : { count: attackers, attack },
        strategy: strategySpec(strategy, attack),
        rounds: Number(values.rounds),
        localSteps: Number(values.steps),
        seed,
        testSubset: Number(values.test),
      });
      finals.push(result.final.honestAccuracy.mean);
      mins.push(result.final.honestAccuracy.min);
      console.error(
        `${strategy} / ${attack} / seed ${seed}: ${(PERCENT * result.final.honestAccuracy.mean).toFixed(1)}%`,
      );
    }
    const avg = (xs: number[]): number => (PERCENT * xs.reduce((s, v) => s + v, 0)) / xs.length;
    cells.push(`${avg(finals).toFixed(1)} (${avg(mins).toFixed(1)})`);
  }
  rows.push(`| ${strategy} | ${cells.join(' | ')} |`);
}
console.log(`\n| strategy | ${attacks.join(' | ')} |`);
console.log(`|---|${attacks.map(() => '---').join('|')}|`);
for (const row of rows) console.log(row);
