/**
 * Mode "lockstep" of the scenario runner: the default merge against mean in the same run,
 * one per attack family, on a small setting (10 peers, 4-class MNIST shards, MLP [32],
 * 6 rounds x 8 steps, int8 deltas, public+own validation, seed 1), and the run's
 * determinism. Margins follow issue 13's rule: well above mean where the attack costs mean
 * more than 10 points, no worse than mean where it does not. Runs are seeded and
 * synchronous, so load cannot move them. Measured at commit f0bf069 (mean -> bristle+ldawa,
 * honest mean accuracy %, attackers' share of the last merge): none 77.5 -> 77.6; ALIE
 * 75.8 -> 77.6 (0); sign flip 49.4 -> 77.6 (0); label flip 54.2 -> 74.6 (0); scaling 1e3
 * 10.0 -> 77.6 (0); IPM eps 2 34.8 -> 77.6 (0): the model attacks' copies are rejected, so
 * those runs are the rule on the honest peers alone. Public-set 66.8 -> 69.3 (0.15; without
 * `gce` 66.9 and 0.24, so this case fails without it: an attack that costs mean 11
 * points, held to a smaller margin because the attacker fits the public part of V). About
 * 45 s of CPU in all.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { compareAttackSpec } from '../../simulations/lockstep/attack-set.ts';
import { type PeerRound, runStrategy, type StrategyRun } from '../../simulations/runner.ts';
import { parseScenario } from '../../simulations/scenario.ts';
import { buildSetup } from '../../simulations/setup.ts';
import { initBackend } from '../../src/train/backend.ts';

const PERCENT_POINT = 0.01;
const ROUNDS = 6;

before(async () => {
  await initBackend('wasm');
});

function smallScenario(attack: string, seed = 1): Record<string, unknown> {
  const spec = compareAttackSpec(attack);
  const byzantine =
    spec === undefined
      ? {}
      : {
          byzantine:
            typeof spec === 'string'
              ? { fraction: 0.3, attack: spec }
              : { fraction: 0.3, attack: spec.name, options: spec.options ?? {} },
        };
  return {
    name: `lockstep-test-${attack}`,
    mode: 'lockstep',
    dataset: 'mnist',
    model: { kind: 'mlp', hidden: [32] },
    peers: 10,
    samplesPerPeer: 300,
    partition: { kind: 'shards', classesPerPeer: 4 },
    ...byzantine,
    strategies: ['bristle+ldawa', 'mean'],
    rounds: ROUNDS,
    localSteps: 8,
    codec: 'int8',
    testSubset: 500,
    seed,
  };
}

/** Honest peers' mean accuracy after the last round. */
function finalAccuracy(run: StrategyRun): number {
  const last = run.records.filter((r) => r.round === ROUNDS - 1);
  assert.equal(last.length, run.honestPeers.length);
  return last.reduce((s, r) => s + (r.merged?.overall ?? Number.NaN), 0) / last.length;
}

/** Attackers' share of the honest merges of the last round, mean over honest peers. */
function finalShare(run: StrategyRun): number {
  const last = run.records.filter((r) => r.round === ROUNDS - 1);
  return last.reduce((s, r) => s + (r.byzantineShare ?? 0), 0) / last.length;
}

async function both(attack: string): Promise<{ mean: number; merged: number; share: number }> {
  const setup = buildSetup(parseScenario(smallScenario(attack)));
  const [bristle, mean] = setup.scenario.strategies;
  if (bristle === undefined || mean === undefined) throw new Error('two strategies expected');
  const merged = await runStrategy(setup, bristle);
  const meanRun = await runStrategy(setup, mean);
  for (const run of [merged, meanRun]) {
    assert.equal(run.errorCount, 0, run.errors.join('; '));
    assert.equal(run.interrupted, false);
    assert.ok(run.records.every((r) => r.closedBy === 'enough-updates' && r.candidates === 9));
  }
  return { mean: finalAccuracy(meanRun), merged: finalAccuracy(merged), share: finalShare(merged) };
}

/** [attack, least margin over mean in points, largest attackers' share in the last merge] */
const CASES: readonly [string, number, number][] = [
  ['none', -1, 0],
  ['alie', -2, 1],
  ['sign-flip', 20, 0.05],
  ['label-flip', 10, 0.25],
  ['scaling-1e3', 20, 0],
  ['ipm-eps2', 20, 0.15],
  ['public-set', 1.5, 0.2],
];

for (const [attack, margin, maxShare] of CASES) {
  test(
    `lockstep, ${attack}: bristle+ldawa ${margin >= 0 ? `>= mean + ${margin}` : `>= mean - ${-margin}`} points`,
    { timeout: 300_000 },
    async (t) => {
      const r = await both(attack);
      t.diagnostic(`mean ${r.mean}, bristle+ldawa ${r.merged}, attackers' share ${r.share}`);
      assert.ok(r.merged >= r.mean + margin * PERCENT_POINT, `bristle+ldawa ${r.merged} vs mean ${r.mean}`);
      assert.ok(r.share <= maxShare, `attackers' share ${r.share} > ${maxShare}`);
    },
  );
}

/** What a seed fixes: every record without its wall times. */
function numbers(run: StrategyRun): unknown {
  return run.records
    .map(({ atMs: _at, mergeMs: _merge, ...rest }: PeerRound) => rest)
    .sort((a, b) => a.round - b.round || a.peer - b.peer);
}

function tiny(seed: number): Record<string, unknown> {
  return {
    name: 'lockstep-tiny',
    mode: 'lockstep',
    dataset: 'mnist',
    model: { kind: 'mlp', hidden: [16] },
    peers: 5,
    samplesPerPeer: 80,
    partition: { kind: 'shards', classesPerPeer: 4 },
    byzantine: { count: 1, attack: 'alie' },
    strategies: ['bristle+ldawa'],
    rounds: 2,
    localSteps: 3,
    codec: 'int8',
    testSubset: 200,
    seed,
  };
}

async function runTiny(seed: number, onMerge?: (peer: number, round: number, strategy: string) => void) {
  const setup = buildSetup(parseScenario(tiny(seed)));
  const entry = setup.scenario.strategies[0];
  if (entry === undefined) throw new Error('one strategy expected');
  const run = await runStrategy(setup, entry, {
    ...(onMerge ? { onMerge: (peer, round, report) => onMerge(peer, round, report.strategy) } : {}),
  });
  return { run, attackers: setup.peers.filter((p) => p.attacker).map((p) => p.index) };
}

test('same seed, same numbers; another seed, other numbers; one merge report per honest peer and round', async () => {
  const merges: string[] = [];
  const a = await runTiny(5, (peer, round, strategy) => merges.push(`${round}:${peer}:${strategy}`));
  const b = await runTiny(5);
  const c = await runTiny(6);
  assert.equal(a.run.errorCount, 0, a.run.errors.join('; '));
  assert.deepEqual(numbers(a.run), numbers(b.run));
  assert.notDeepEqual(numbers(a.run), numbers(c.run));
  // 4 honest peers x 2 rounds; attackers' merges are not reported.
  assert.equal(merges.length, 8);
  assert.ok(merges.every((m) => m.endsWith(':bristle+ldawa')));
  assert.ok(!merges.some((m) => a.attackers.includes(Number(m.split(':')[1]))));
  // Every honest peer merged all 4 others' updates of the round, and reports its max |w|.
  assert.ok(a.run.records.every((r) => r.candidates === 4 && r.maxAbs !== undefined && r.maxAbs > 0));
});
