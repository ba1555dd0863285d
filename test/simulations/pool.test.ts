/**
 * A simulation with its peers' training on worker threads (scenario key "workers") gives
 * the same per-peer, per-round results as in-process training, and the same twice. The
 * scenario waits for every neighbour (full topology, minFreshUpdates = peers - 1), so no
 * merge depends on which update arrives first: only the training differs between the runs.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { type PeerRound, runStrategy } from '../../simulations/runner.ts';
import { parseScenario, ScenarioError } from '../../simulations/scenario.ts';
import { buildSetup } from '../../simulations/setup.ts';
import { initBackend } from '../../src/train/backend.ts';

const PEERS = 4;
const BASE = {
  name: 'test-pool',
  dataset: 'mnist',
  model: { kind: 'mlp', hidden: [32] },
  peers: PEERS,
  partition: { kind: 'iid' },
  strategies: ['mean'],
  rounds: 3,
  localSteps: 10,
  batchSize: 16,
  samplesPerPeer: 200,
  testSubset: 200,
  codec: 'fp32',
  transport: 'inproc',
  // All-to-all, every round waiting for every other peer: no merge depends on arrival order.
  neighbours: 'all',
  minFreshUpdates: PEERS - 1,
  seed: 1,
};

before(async () => {
  await initBackend('wasm');
});

/** Per peer and round: merged accuracy and loss, local loss (sorted: arrival order is not a result). */
async function simulate(workers: number): Promise<string[]> {
  const setup = buildSetup(parseScenario({ ...BASE, workers }));
  const entry = setup.scenario.strategies[0];
  if (entry === undefined) throw new Error('no strategy');
  const run = await runStrategy(setup, entry);
  assert.equal(run.errorCount, 0, run.errors.join('; '));
  assert.equal(run.records.length, PEERS * BASE.rounds);
  return run.records
    .map((r: PeerRound) => `${r.peer}/${r.round}: ${r.merged?.overall} ${r.merged?.loss} ${r.local?.loss}`)
    .sort();
}

test('pooled training gives the in-process results, and the same twice', { timeout: 120_000 }, async () => {
  const inProcess = await simulate(0);
  const pooled = await simulate(2);
  assert.deepEqual(pooled, inProcess);
  assert.deepEqual(await simulate(2), pooled);
  // It learned something (the comparison is not between two untrained runs).
  const last = inProcess.filter((line) => line.includes(`/${BASE.rounds - 1}:`));
  assert.ok(
    last.every((line) => Number(line.split(' ')[1]) > 0.5),
    last.join('\n'),
  );
});

test('the workers key is validated', () => {
  assert.equal(parseScenario(BASE).workers, 0);
  assert.throws(() => parseScenario({ ...BASE, workers: -1 }), ScenarioError);
  assert.throws(() => parseScenario({ ...BASE, workers: 1.5 }), /workers: must be an integer/);
  assert.throws(() => parseScenario({ ...BASE, workers: 65 }), ScenarioError);
});
