/**
 * Lockstep experiments of the default merge against mean in the same run, one per attack
 * family, on a small config (10 peers, 4-class MNIST shards, MLP [32], 6 rounds x 8 steps,
 * public+own validation, seed 1): about 20 s in all. Measured when written (mean ->
 * bristle+ldawa, honest mean accuracy %, attackers' share in the last merge): none 79.6 ->
 * 79.8; label flip 56.6 -> 72.1 (share 0.18: this small config lets some flippers through;
 * see docs/RESULTS.md for the full setting); the other families as in the CASES bounds.
 * Since the gate compares with the trusted senders' certainty (gateReference 'trusted'),
 * label flip is 65.1 here (share 0.17): that rule rejects more flippers in rounds 3-4 of
 * this run (25 against 21 rejections) and still ends lower, because which flippers get in
 * decides how much their harm cancels (flippers of mirrored classes undo each other), and
 * six rounds end while accuracy still climbs 10 points a round. On the full setting, seeds
 * 3-5, it lifted label flip from 77.5 to 79.6 (docs/RESULTS.md). So label flip's margin is
 * the issue's example, mean + 5 points.
 * Margins follow the issue's rule: well above mean where the attack costs mean more than
 * 10 points, no worse than mean where it does not. Runs are seeded, so load cannot move them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadDataset } from '../../node/datasets.ts';
import { compareAttackSpec } from '../../simulations/lockstep/attack-set.ts';
import {
  type LockstepConfig,
  type LockstepResult,
  randomRegularTopology,
  runLockstep,
  seededSubset,
} from '../../simulations/lockstep/index.ts';
import { createRng } from '../../src/data/rng.ts';

const PERCENT_POINT = 0.01;

const mnist = loadDataset('mnist');

function smallSetting(strategy: string, attack: string): LockstepConfig {
  const spec = compareAttackSpec(attack);
  return {
    dataset: { train: seededSubset(mnist.train, 3000, 1), test: mnist.test },
    model: { kind: 'mlp', hidden: [32] },
    peers: 10,
    partition: { kind: 'shards', classesPerPeer: 4 },
    mergeValidation: 'public+own',
    ...(spec === undefined ? {} : { byzantine: { fraction: 0.3, attack: spec } }),
    strategy,
    rounds: 6,
    localSteps: 8,
    seed: 1,
    testSubset: 500,
  };
}

async function both(attack: string): Promise<{ mean: number; merged: number; share: number }> {
  const mean = await runLockstep(smallSetting('mean', attack));
  const merged = await runLockstep(smallSetting('bristle+ldawa', attack));
  assert.equal(merged.rounds.length, 6);
  return {
    mean: mean.final.honestAccuracy.mean,
    merged: merged.final.honestAccuracy.mean,
    share: merged.final.attackerShare,
  };
}

/** [attack, least margin over mean in points, largest attackers' share in the last merge] */
const CASES: readonly [string, number, number][] = [
  ['none', -1, 0],
  ['alie', -2, 1],
  ['sign-flip', 20, 0.05],
  ['label-flip', 5, 0.25],
  ['scaling-1e3', 20, 0],
  ['ipm-eps2', 20, 0.1],
];

for (const [attack, margin, maxShare] of CASES) {
  test(`lockstep, ${attack}: bristle+ldawa ${margin >= 0 ? `>= mean + ${margin}` : `>= mean - ${-margin}`} points`, async () => {
    const r = await both(attack);
    assert.ok(r.merged >= r.mean + margin * PERCENT_POINT, `bristle+ldawa ${r.merged} vs mean ${r.mean}`);
    assert.ok(r.share <= maxShare, `attackers' share ${r.share} > ${maxShare}`);
  });
}

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
  const merges: string[] = [];
  const a = await runLockstep(tiny(5), {
    onRound: (r) => seen.push(r.round),
    onMerge: (peer, round, report) => merges.push(`${round}:${peer}:${report.strategy}`),
  });
  const b = await runLockstep(tiny(5));
  const c = await runLockstep(tiny(6));
  assert.deepEqual(seen, [0, 1]);
  // One merge report per honest peer (4 of 5) per round; attackers do not merge.
  assert.equal(merges.length, 8);
  assert.ok(merges.every((m) => m.endsWith(':bristle+ldawa')));
  assert.ok(!merges.some((m) => Number(m.split(':')[1]) === a.attackers[0]));
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
