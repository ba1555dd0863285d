/**
 * Fast checks of issue 13's measurement tools in the runner's lockstep mode: the
 * honest-only oracle, the public+own validation, the attacks that need the lockstep
 * attackers (blow-up, public-set, adaptive ALIE), the round barrier, and compare.ts's
 * attack set and grid (tiny MLP, a few rounds).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { compareAttackNames, compareAttackSpec } from '../../simulations/lockstep/attack-set.ts';
import { gridScenario, gridStrategy } from '../../simulations/lockstep/grid.ts';
import { LockstepRounds, lockstepAttackerModel, meanWeights } from '../../simulations/lockstep-mode.ts';
import { runStrategy, type StrategyRun } from '../../simulations/runner.ts';
import { LOCKSTEP_STALL_MS, parseScenario, ScenarioError } from '../../simulations/scenario.ts';
import { buildSetup, type SimulationSetup } from '../../simulations/setup.ts';
import type { AttackSpec } from '../../src/attacks/registry.ts';
import { createAttack } from '../../src/attacks/registry.ts';
import { prepareModel } from '../../src/model/tfjs-model.ts';
import { flatten, type Weights } from '../../src/model/weights.ts';
import { createTaskTrainer } from '../../src/peer/create-peer.ts';
import { initBackend } from '../../src/train/backend.ts';

before(async () => {
  await initBackend('wasm');
});

function tiny(
  strategies: readonly string[],
  attack: AttackSpec | undefined,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const byzantine =
    attack === undefined
      ? {}
      : {
          byzantine:
            typeof attack === 'string'
              ? { count: 2, attack }
              : { count: 2, attack: attack.name, options: attack.options ?? {} },
        };
  return {
    name: 'lockstep-measure',
    mode: 'lockstep',
    dataset: 'mnist',
    model: { kind: 'mlp', hidden: [16] },
    peers: 6,
    samplesPerPeer: 200,
    partition: { kind: 'shards', classesPerPeer: 4 },
    ...byzantine,
    strategies,
    rounds: 3,
    localSteps: 5,
    codec: 'int8',
    testSubset: 200,
    seed: 3,
    ...overrides,
  };
}

async function runAll(setup: SimulationSetup): Promise<StrategyRun[]> {
  const runs: StrategyRun[] = [];
  for (const entry of setup.scenario.strategies) {
    const run = await runStrategy(setup, entry);
    assert.equal(run.errorCount, 0, run.errors.join('; '));
    runs.push(run);
  }
  return runs;
}

/** Honest mean accuracy per round. */
function accuracies(run: StrategyRun): number[] {
  const rounds = [...new Set(run.records.map((r) => r.round))].sort((a, b) => a - b);
  return rounds.map((round) => {
    const list = run.records.filter((r) => r.round === round);
    return list.reduce((s, r) => s + (r.merged?.overall ?? Number.NaN), 0) / list.length;
  });
}

const shares = (run: StrategyRun): number[] => run.records.map((r) => r.byzantineShare ?? 0);
const lastRound = (run: StrategyRun) =>
  run.records.filter((r) => r.round === Math.max(...run.records.map((x) => x.round)));

test('oracle: attackers never get a share, and the honest peers do not see what they send', async () => {
  const [signFlip, signFlipMean] = await runAll(buildSetup(parseScenario(tiny(['oracle', 'mean'], 'sign-flip'))));
  const [scaling] = await runAll(
    buildSetup(parseScenario(tiny(['oracle'], { name: 'scaling', options: { gamma: 1e3 } }))),
  );
  for (const r of [signFlip, scaling]) {
    if (r === undefined) throw new Error('run expected');
    assert.equal(r.records.length, 4 * 3);
    assert.ok(
      shares(r).every((s) => s === 0),
      JSON.stringify(shares(r)),
    );
    assert.ok(r.records.every((x) => x.mergeMs !== undefined && x.mergeMs >= 0));
  }
  assert.deepEqual(accuracies(signFlip), accuracies(scaling));
  const meanShare = lastRound(signFlipMean).map((r) => r.byzantineShare ?? 0);
  assert.ok(
    meanShare.every((s) => s > 0.2),
    `mean gives sign flippers ${meanShare}`,
  );
});

test('oracle without attackers is mean', async () => {
  const [oracle, mean] = await runAll(buildSetup(parseScenario(tiny(['oracle', 'mean'], undefined))));
  assert.deepEqual(accuracies(oracle), accuracies(mean));
});

test("public+own validation: the public set's 10 samples per class plus own samples, every class familiar", () => {
  const setup = buildSetup(parseScenario(tiny(['mean'], undefined)));
  assert.equal(setup.publicValidation?.y.length, 100);
  for (const p of setup.peers) {
    assert.deepEqual(p.familiarClasses, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(p.validation.y.length > 100, `peer ${p.index}: ${p.validation.y.length} validation samples`);
  }
  const own = buildSetup(parseScenario(tiny(['mean'], undefined, { publicValidationPerClass: 0 })));
  assert.equal(own.publicValidation, undefined);
  assert.ok(own.peers.every((p) => p.familiarClasses.length === 4));
});

test('dead-input blow-up: the shared value bound keeps the huge values out of every merge, even mean', async () => {
  const [mean, oracle] = await runAll(
    buildSetup(parseScenario(tiny(['mean', 'oracle'], 'dead-input-blowup', { rounds: 1 }))),
  );
  // The merge guard drops candidates with values beyond DEFAULT_VALUE_BOUND (1e4) for every
  // strategy; without it mean carried 3e38 values into honest models (measured 1e36+).
  for (const run of [mean, oracle] as StrategyRun[]) {
    for (const r of run.records) assert.ok((r.maxAbs ?? Number.NaN) < 10, `max |w| ${r.maxAbs}`);
  }
  assert.ok(shares(mean).every((s) => s === 0));
});

test('public-set: runs in mode lockstep (it needs a public set), refused in mode async', async () => {
  assert.throws(
    () => parseScenario(tiny(['mean'], 'public-set', { mode: 'async', transport: 'inproc' })),
    (e: unknown) =>
      e instanceof ScenarioError && /byzantine.attack: "public-set" runs in mode "lockstep" only/.test(e.message),
  );
  assert.throws(
    () => parseScenario(tiny(['mean'], 'public-set', { publicValidationPerClass: 0 })),
    (e: unknown) =>
      e instanceof ScenarioError && /byzantine.attack: "public-set" needs the task's public set/.test(e.message),
  );
  const [run] = await runAll(buildSetup(parseScenario(tiny(['mean'], 'public-set', { rounds: 1 }))));
  assert.ok(shares(run).some((s) => s > 0));
});

test('adaptive ALIE: every colluder sends its own model; ALIE colluders send one', async () => {
  const setup = buildSetup(parseScenario(tiny(['mean'], 'adaptive-alie')));
  await prepareModel(setup.task.model);
  const attackerSetups = setup.peers.filter((p) => p.attacker);
  const honestSetups = setup.peers.filter((p) => !p.attacker);
  const trainers = setup.peers.map((p) => createTaskTrainer(setup.task, { seed: p.index }));
  try {
    // Honest models that differ (all peers start from one initialisation).
    const honest = honestSetups.map((p) => {
      const t = trainers[p.index];
      if (t === undefined) throw new Error('trainer expected');
      const start = t.getWeights();
      t.train(p.train, { steps: 2 });
      return { start, sent: t.getWeights() };
    });
    const sent = async (name: string): Promise<number[][]> => {
      const rounds = new LockstepRounds(
        setup.peers.length,
        honestSetups.map((p) => p.index),
      );
      honestSetups.forEach((p, k) => {
        rounds.started(p.index, 0, (honest[k] as { start: Weights }).start);
        rounds.sent(p.index, 0, (honest[k] as { sent: Weights }).sent);
      });
      const attack = createAttack({ name, options: { n: setup.peers.length, f: attackerSetups.length } });
      const context = { attack, rounds, local: { steps: 1 }, seed: 1, publicSet: undefined };
      const models = await Promise.all(
        attackerSetups.map((p, colluder) =>
          lockstepAttackerModel(
            { index: p.index, colluder, trainer: trainers[p.index] as never, train: p.train },
            0,
            [],
            context,
          ),
        ),
      );
      return models.map((m) => Array.from(flatten(m)));
    };
    const [a, b] = await sent('adaptive-alie');
    assert.notDeepEqual(a, b);
    const [c, d] = await sent('alie');
    assert.deepEqual(c, d);
    assert.ok(c.length > 0);
  } finally {
    for (const t of trainers) {
      t.dispose();
      t.model.dispose();
    }
  }
});

test('the round barrier: round r opens when every peer closed r - 1; stopping settles every wait', async () => {
  const rounds = new LockstepRounds(3, [0, 1]);
  await rounds.opened(0);
  let opened = false;
  const waiting = rounds.opened(1).then(() => {
    opened = true;
  });
  rounds.ended(0);
  rounds.ended(0);
  await Promise.resolve();
  assert.equal(opened, false);
  rounds.ended(0);
  await waiting;
  assert.equal(opened, true);
  const w: Weights = [{ name: 'w', shape: [2], values: Float32Array.of(1, 3) }];
  rounds.started(0, 1, w);
  rounds.sent(0, 1, w);
  const pending = rounds.honestRound(1);
  rounds.abort();
  assert.equal(await pending, undefined);
  await rounds.opened(7);
  assert.deepEqual(
    Array.from(meanWeights([w, [{ name: 'w', shape: [2], values: Float32Array.of(3, 5) }]])[0].values),
    [2, 4],
  );
});

test('mode "lockstep" in a scenario: the bus, every other peer, no deadline; keys it fixes are refused', () => {
  const s = parseScenario(tiny(['mean'], 'alie'));
  assert.equal(s.mode, 'lockstep');
  assert.equal(s.transport, 'inproc');
  assert.equal(s.minFreshUpdates, 5);
  assert.equal(s.deadline.initialMs, LOCKSTEP_STALL_MS);
  // The adaptive deadline cannot learn its way below the stall bound.
  assert.equal(s.deadline.minMs, LOCKSTEP_STALL_MS);
  const asyncMode = parseScenario(tiny(['mean'], 'alie', { mode: undefined, transport: 'inproc' }));
  assert.equal(asyncMode.mode, 'async');
  assert.deepEqual(asyncMode.deadline, { initialMs: 20_000, minMs: 50, maxMs: 120_000 });
  const inAsync = (deadline: Record<string, number>) =>
    parseScenario(tiny(['mean'], 'alie', { mode: undefined, transport: 'inproc', deadline }));
  assert.deepEqual(inAsync({ minMs: 30_000 }).deadline, { initialMs: 30_000, minMs: 30_000, maxMs: 120_000 });
  assert.throws(
    () => inAsync({ initialMs: 1000, minMs: 2000 }),
    (e: unknown) =>
      e instanceof ScenarioError && /^deadline\.initialMs: must be an integer in \[2000, 120000\]/.test(e.message),
  );
  // Neighbours: "all" in lockstep (its only value), D = 8 by default elsewhere.
  assert.equal(s.neighbours, 'all');
  assert.equal(parseScenario(tiny(['mean'], 'alie', { neighbours: 'all' })).neighbours, 'all');
  assert.equal(asyncMode.neighbours, 8);
  const refused: [Record<string, unknown>, RegExp][] = [
    [{ transport: 'libp2p-memory' }, /^transport: mode "lockstep" runs on the in-process bus/],
    [{ minFreshUpdates: 2 }, /^minFreshUpdates: mode "lockstep" fixes it/],
    [{ deadline: { maxMs: 1000 } }, /^deadline: mode "lockstep" fixes it/],
    [{ neighbours: 3 }, /^neighbours: mode "lockstep" merges every peer's update/],
    [{ churn: [{ round: 1, leave: 1 }] }, /^churn: mode "lockstep" runs a fixed set of peers/],
    [{ mode: 'sync' }, /^mode: must be one of async, lockstep, got "sync"/],
  ];
  for (const [overrides, message] of refused) {
    assert.throws(
      () => parseScenario(tiny(['mean'], 'alie', overrides)),
      (e: unknown) => e instanceof ScenarioError && message.test(e.message),
      JSON.stringify(overrides),
    );
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
  assert.deepEqual(compareAttackSpec('label-flip-shift'), { name: 'label-flip', options: { mapping: 'shift' } });
  assert.deepEqual(compareAttackSpec('gaussian-model'), { name: 'gaussian-model', options: {} });
  assert.throws(() => compareAttackSpec('alie-z2'), /unknown attack "alie-z2"/);
  assert.ok(compareAttackNames().includes('scaling-1e3'));
});

test("compare's grid: a cell is a lockstep scenario; baselines are told the true number of attackers", () => {
  const grid = {
    peers: 10,
    attackers: 3,
    rounds: 10,
    localSteps: 10,
    train: 6000,
    test: 1000,
    hidden: [64],
    trainable: 'all' as const,
    publicValidationPerClass: 10,
    partition: { kind: 'shards' as const, classesPerPeer: 4 },
    codec: 'int8',
    bristleN: undefined,
    strategyOptions: { distrustScale: 0.5 },
  };
  assert.deepEqual(gridStrategy('krum', 'alie', grid), { name: 'krum', options: { f: 3 } });
  assert.deepEqual(gridStrategy('trimmed-mean', 'none', grid), { name: 'trimmed-mean', options: { b: 0 } });
  assert.deepEqual(gridStrategy('clipped-gossip', 'alie', grid), {
    name: 'clipped-gossip',
    options: { byzantineFraction: 3 / 9 },
  });
  assert.deepEqual(gridStrategy('bristle+ldawa', 'alie', grid), {
    name: 'bristle+ldawa',
    options: { distrustScale: 0.5 },
  });
  assert.equal(gridStrategy('mean', 'alie', grid), 'mean');
  const s = parseScenario(
    gridScenario(grid, {
      strategy: 'oracle',
      attack: 'alie-z1',
      attackSpec: compareAttackSpec('alie-z1'),
      seed: 4,
    }),
  );
  assert.equal(s.mode, 'lockstep');
  assert.equal(s.transport, 'inproc');
  assert.equal(s.minFreshUpdates, 9);
  assert.equal(s.samplesPerPeer, 600);
  assert.equal(s.seed, 4);
  assert.deepEqual(s.byzantine, { count: 3, attack: { name: 'alie', options: { z: 1 } } });
  assert.deepEqual(s.local, { steps: 10 });
  const none = parseScenario(gridScenario(grid, { strategy: 'mean', attack: 'none', attackSpec: undefined, seed: 4 }));
  assert.equal(none.byzantine, undefined);
  assert.equal(none.validationPerClass, 10, "the scenario's default own validation when the grid gives none");
  const wide = parseScenario(
    gridScenario(
      { ...grid, publicValidationPerClass: 50, validationPerClass: 20 },
      { strategy: 'mean', attack: 'none', attackSpec: undefined, seed: 4 },
    ),
  );
  assert.equal(wide.publicValidationPerClass, 50);
  assert.equal(wide.validationPerClass, 20);
});
