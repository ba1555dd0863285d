/**
 * Algorithm-level experiment: peers in one process exchange Weights directly (no network).
 * Bristle's setting: MNIST, 10 peers holding 4 consecutive classes each, 30% attackers,
 * frozen random MLP backbone with only the bias-free head trained and exchanged, and a
 * merge validation split with ~10 samples of every class (as the Bristle authors' runner).
 * Margins come from measurements over seeds 1-4 with L-DAWA warm-up 0 (docs/RESULTS.md,
 * "Re-measured after L-DAWA's warm-up became 0"): label flipping, bristle+ldawa beat mean
 * by 10-27 points; ALIE (z from n = 10, f = 3, about 0.18) costs mean 3-8 points and
 * bristle+ldawa nothing, but bristle+ldawa starts 3.5-5 points below mean without
 * attackers, so it ends -0.7 to +1.7 points from mean: that test asserts "not worse",
 * not "clearly better".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadDataset } from '../../node/datasets.ts';
import {
  type LockstepConfig,
  type LockstepResult,
  randomRegularTopology,
  runLockstep,
  seededSubset,
} from '../../simulations/lockstep/index.ts';
import { createRng } from '../../src/data/rng.ts';

const SEED = 1;
const PERCENT_POINT = 0.01;
/** Measured label-flip advantage: 10-27 points over seeds 1-4. */
const LABEL_FLIP_MARGIN = 5 * PERCENT_POINT;
/** Measured ALIE difference: -0.7 to +1.7 points over seeds 1-4. */
const ALIE_TOLERANCE = 2 * PERCENT_POINT;

const mnist = loadDataset('mnist');

function bristleSetting(strategy: string, attack: string): LockstepConfig {
  return {
    dataset: { train: seededSubset(mnist.train, 4000, SEED), test: mnist.test },
    model: { kind: 'mlp', hidden: [256] },
    trainable: 'head',
    peers: 10,
    partition: { kind: 'shards', classesPerPeer: 4, layout: 'consecutive' },
    mergeValidation: 'all-classes',
    byzantine: { fraction: 0.3, attack },
    strategy,
    rounds: 8,
    localSteps: 8,
    seed: SEED,
    testSubset: 1000,
  };
}

async function finalMean(strategy: string, attack: string): Promise<number> {
  const result = await runLockstep(bristleSetting(strategy, attack));
  assert.equal(result.attackers.length, 3);
  assert.equal(result.rounds.length, 8);
  return result.final.honestAccuracy.mean;
}

test('label flipping, 30% attackers: bristle+ldawa ends clearly above mean', async () => {
  const bristle = await finalMean('bristle+ldawa', 'label-flip');
  const mean = await finalMean('mean', 'label-flip');
  assert.ok(bristle >= mean + LABEL_FLIP_MARGIN, `bristle+ldawa ${bristle} vs mean ${mean}`);
});

test('ALIE, 30% attackers: bristle+ldawa ends no worse than mean (ALIE barely hurts mean here)', async () => {
  const bristle = await finalMean('bristle+ldawa', 'alie');
  const mean = await finalMean('mean', 'alie');
  assert.ok(bristle >= mean - ALIE_TOLERANCE, `bristle+ldawa ${bristle} vs mean ${mean}`);
});

function tiny(seed: number): LockstepConfig {
  return {
    dataset: { train: seededSubset(mnist.train, 400, 3), test: mnist.test },
    model: { kind: 'mlp', hidden: [16] },
    peers: 5,
    partition: { kind: 'shards', classesPerPeer: 4 },
    byzantine: { count: 1, attack: 'label-flip' },
    strategy: 'bristle+ldawa',
    degree: 2,
    rounds: 2,
    localSteps: 3,
    seed,
    testSubset: 200,
  };
}

function numbers(r: LockstepResult): unknown {
  return { rounds: r.rounds, attackers: r.attackers, neighbours: r.neighbours, testSamples: r.testSamples };
}

test('same seed, same numbers; another seed, other numbers', async () => {
  const seen: number[] = [];
  const a = await runLockstep(tiny(5), { onRound: (r) => seen.push(r.round) });
  const b = await runLockstep(tiny(5));
  const c = await runLockstep(tiny(6));
  assert.deepEqual(seen, [0, 1]);
  assert.deepEqual(numbers(a), numbers(b));
  assert.notDeepEqual(numbers(a), numbers(c));
  assert.equal(a.testSamples, 200);
});

test('random-regular topology: symmetric, no self-links, about `degree` neighbours each', () => {
  const peers = 20;
  const degree = 4;
  const links = randomRegularTopology(peers, degree, createRng(9));
  links.forEach((ns, i) => {
    assert.ok(!ns.includes(i));
    assert.ok(ns.length <= degree && ns.length >= degree - 2, `peer ${i} has ${ns.length}`);
    for (const j of ns) assert.ok((links[j] as number[]).includes(i));
  });
  assert.deepEqual(links, randomRegularTopology(peers, degree, createRng(9)));
});
