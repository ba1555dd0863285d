/**
 * Fast lockstep checks of issue 13's measurement tools: the honest-only oracle, the
 * public+own validation, and the new attacks inside the runner (tiny MLP, a few rounds).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadDataset } from '../../node/datasets.ts';
import { compareAttackNames, compareAttackSpec } from '../../simulations/lockstep/attack-set.ts';
import {
  attackerKnowledge,
  attackerModels,
  attackForRun,
  buildPeers,
  chooseAttackers,
  disposePeers,
  type LockstepConfig,
  type LockstepResult,
  meanWeights,
  resolveConfig,
  runLockstep,
  seededSubset,
} from '../../simulations/lockstep/index.ts';
import type { AttackSpec } from '../../src/attacks/registry.ts';
import { createRng } from '../../src/data/rng.ts';
import { flatten } from '../../src/model/weights.ts';
import { initBackend } from '../../src/train/backend.ts';

const mnist = loadDataset('mnist');

before(async () => {
  await initBackend('wasm');
});

function tiny(
  strategy: string,
  attack: AttackSpec | undefined,
  overrides: Partial<LockstepConfig> = {},
): LockstepConfig {
  return {
    dataset: { train: seededSubset(mnist.train, 1200, 2), test: mnist.test },
    model: { kind: 'mlp', hidden: [16] },
    peers: 6,
    partition: { kind: 'shards', classesPerPeer: 4 },
    mergeValidation: 'public+own',
    ...(attack === undefined ? {} : { byzantine: { count: 2, attack } }),
    strategy,
    rounds: 3,
    localSteps: 5,
    seed: 3,
    testSubset: 200,
    ...overrides,
  };
}

function accuracies(r: LockstepResult): number[] {
  return r.rounds.map((x) => x.honestAccuracy.mean);
}

test('oracle: attackers never get a share, and the honest peers do not see what they send', async () => {
  const signFlip = await runLockstep(tiny('oracle', 'sign-flip'));
  const scaling = await runLockstep(tiny('oracle', { name: 'scaling', options: { gamma: 1e3 } }));
  for (const r of [signFlip, scaling]) {
    assert.equal(r.rounds.length, 3);
    assert.ok(
      r.rounds.every((x) => x.attackerShare === 0),
      JSON.stringify(r.rounds),
    );
    assert.equal(r.mergeMs.length, 3);
    assert.ok(r.mergeMs.every((ms) => ms >= 0));
  }
  assert.deepEqual(accuracies(signFlip), accuracies(scaling));
  const mean = await runLockstep(tiny('mean', 'sign-flip'));
  assert.ok(mean.final.attackerShare > 0.2, `mean gives sign flippers ${mean.final.attackerShare}`);
});

test('oracle without attackers is mean', async () => {
  const oracle = await runLockstep(tiny('oracle', undefined));
  const mean = await runLockstep(tiny('mean', undefined));
  assert.deepEqual(accuracies(oracle), accuracies(mean));
});

test("public+own validation: the public set's 10 samples per class plus own samples, every class familiar", () => {
  const config = resolveConfig(tiny('mean', undefined));
  assert.equal(config.mergeValidation, 'public+own');
  assert.equal(config.publicValidationPerClass, 10);
  assert.throws(() => resolveConfig(tiny('mean', undefined, { mergeValidation: 'public' as never })), /one of/);
});

test('dead-input blow-up: the shared value bound keeps the huge values out of every merge, even mean', async () => {
  const mean = await runLockstep(tiny('mean', 'dead-input-blowup', { rounds: 1 }));
  const oracle = await runLockstep(tiny('oracle', 'dead-input-blowup', { rounds: 1 }));
  // The merge guard drops candidates with values beyond DEFAULT_VALUE_BOUND (1e4) for every
  // strategy; without it mean carried 3e38 values into honest models (measured 1e36+).
  assert.ok(mean.final.honestMaxAbs < 10, `mean: max |w| ${mean.final.honestMaxAbs}`);
  assert.equal(mean.final.attackerShare, 0);
  assert.ok(oracle.final.honestMaxAbs < 10, `oracle: max |w| ${oracle.final.honestMaxAbs}`);
  assert.equal(mean.publicValidationSamples, 100);
});

test('public-set needs a public set; it runs with public+own', async () => {
  await assert.rejects(
    runLockstep(tiny('mean', 'public-set', { mergeValidation: 'all-classes' })),
    /public-set attack needs mergeValidation 'public\+own'/,
  );
  const r = await runLockstep(tiny('mean', 'public-set', { rounds: 1 }));
  assert.ok(r.final.attackerShare > 0);
});

test('adaptive ALIE: every colluder sends its own model; ALIE colluders send one', () => {
  const config = resolveConfig(tiny('mean', 'adaptive-alie', { mergeValidation: 'own-classes' }));
  const attackerIndices = chooseAttackers(config.peers, 2, config.seed);
  const peers = buildPeers(config, attackerIndices, []);
  try {
    const attackers = peers.filter((p) => p.byzantine);
    // Honest models that differ (all peers start from one initialisation).
    const honest = peers
      .filter((p) => !p.byzantine)
      .map((p) => {
        p.trainer.train(p.train, { steps: 2 });
        return p.trainer.getWeights();
      });
    const sent = (name: string) =>
      attackerModels({
        attack: attackForRun(name, config.peers, 2),
        attackers,
        data: new Map(attackers.map((a) => [a.index, a.train])),
        knowledge: new Map(attackers.map((a) => [a.index, attackerKnowledge(a, undefined)])),
        start: meanWeights(honest),
        honest,
        local: { steps: 1 },
        rng: createRng(1),
      });
    const [a, b] = [...sent('adaptive-alie').values()].map(flatten);
    assert.notDeepEqual(a, b);
    const [c, d] = [...sent('alie').values()].map(flatten);
    assert.deepEqual(c, d);
  } finally {
    disposePeers(peers);
  }
});

test("compare's attack set: names, ALIE z override", () => {
  assert.equal(compareAttackSpec('none'), undefined);
  assert.deepEqual(compareAttackSpec('alie'), { name: 'alie', options: {} });
  assert.deepEqual(compareAttackSpec('alie', 1.5), { name: 'alie', options: { z: 1.5 } });
  assert.deepEqual(compareAttackSpec('alie-z1', 1.5), { name: 'alie', options: { z: 1 } });
  assert.deepEqual(compareAttackSpec('adaptive-alie', 2), { name: 'adaptive-alie', options: { z: 2 } });
  assert.deepEqual(compareAttackSpec('ipm-eps2'), { name: 'ipm', options: { eps: 2 } });
  assert.deepEqual(compareAttackSpec('sign-flip-model'), { name: 'sign-flip', options: { mode: 'model' } });
  assert.deepEqual(compareAttackSpec('gaussian-model'), { name: 'gaussian-model', options: {} });
  assert.throws(() => compareAttackSpec('alie-z2'), /unknown attack "alie-z2"/);
  assert.ok(compareAttackNames().includes('scaling-1e3'));
});
