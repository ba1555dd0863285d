/**
 * The honest-only oracle as a `meshfl simulate` strategy: honest peers merge only honest
 * candidates with mean. Scenario parsing, and a tiny in-process run where attackers never
 * get a share of an honest merge.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { runStrategy } from '../../simulations/runner.ts';
import { parseScenario, ScenarioError } from '../../simulations/scenario.ts';
import { buildSetup } from '../../simulations/setup.ts';
import { initBackend } from '../../src/train/backend.ts';

const PEERS = 5;
const BASE = {
  name: 'test-oracle',
  dataset: 'mnist',
  model: { kind: 'mlp', hidden: [16] },
  peers: PEERS,
  partition: { kind: 'shards', classesPerPeer: 4 },
  byzantine: { count: 2, attack: 'sign-flip' },
  strategies: ['oracle', 'mean'],
  rounds: 2,
  localSteps: 5,
  batchSize: 16,
  samplesPerPeer: 150,
  testSubset: 100,
  transport: 'inproc',
  minFreshUpdates: PEERS - 1,
  seed: 2,
};

before(async () => {
  await initBackend('wasm');
});

test('scenarios: "oracle" is a strategy name, with mean options; bad options and lockstep-only attacks are refused', () => {
  const s = parseScenario({
    ...BASE,
    strategies: ['oracle', { name: 'oracle', label: 'oracle-uniform', options: { weighting: 'uniform' } }],
  });
  assert.deepEqual(
    s.strategies.map((e) => e.label),
    ['oracle', 'oracle-uniform'],
  );
  assert.throws(
    () => parseScenario({ ...BASE, strategies: [{ name: 'oracle', options: { trim: 1 } }] }),
    (e: unknown) => e instanceof ScenarioError && /strategies\[0\]: mean: unknown option "trim"/.test(e.message),
  );
  assert.throws(
    () => parseScenario({ ...BASE, byzantine: { count: 1, attack: 'public-set' } }),
    /byzantine.attack: "public-set" runs in mode "lockstep" only/,
  );
  const alie = parseScenario({ ...BASE, byzantine: { count: 2, attack: 'adaptive-alie' } });
  assert.deepEqual(alie.byzantine?.attack, { name: 'adaptive-alie', options: { n: PEERS, f: 2 } });
});

test('simulate: the oracle never merges an attacker; mean does', { timeout: 120_000 }, async () => {
  const setup = buildSetup(parseScenario(BASE));
  const [oracle, mean] = setup.scenario.strategies;
  if (oracle === undefined || mean === undefined) throw new Error('two strategies expected');
  const attackers = new Set(setup.peers.filter((p) => p.attacker).map((p) => p.index));
  const runOracle = await runStrategy(setup, oracle);
  assert.equal(runOracle.errorCount, 0, runOracle.errors.join('; '));
  assert.equal(runOracle.records.length, (PEERS - 2) * BASE.rounds);
  for (const r of runOracle.records) {
    assert.equal(r.byzantineShare, 0, `peer ${r.peer} round ${r.round}`);
    assert.ok(r.mergedFrom.length > 0 && r.mergedFrom.every((i) => !attackers.has(i)), `${r.mergedFrom}`);
  }
  const runMean = await runStrategy(setup, mean);
  assert.ok(runMean.records.some((r) => (r.byzantineShare ?? 0) > 0));
});
