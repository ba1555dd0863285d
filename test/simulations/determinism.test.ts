/**
 * A seeded asynchronous simulation on the in-process bus gives the same numbers twice: with
 * the default D neighbours and two gossip steps, each step waits for every candidate, and a
 * wait gives up only when every peer of the process waits (src/peer/idle-gate.ts), never on
 * the wall clock; a peer that ended its run is no longer waited for (Peer.neighbourFinished).
 * The scenario's deadline (50 ms) is far shorter than a round, as on a loaded machine: with
 * wall-clock deadlines (before the idle gate) 14 of the 40 peer-rounds closed on it, each time
 * at another point of the run, and 21 of the 40 per-peer, per-round records differed.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { type PeerRound, runStrategy } from '../../simulations/runner.ts';
import { parseScenario } from '../../simulations/scenario.ts';
import { buildSetup } from '../../simulations/setup.ts';
import { initBackend } from '../../src/train/backend.ts';

const PEERS = 10;
const ROUNDS = 4;
const SCENARIO = {
  name: 'test-determinism',
  dataset: 'mnist',
  model: { kind: 'mlp', hidden: [32] },
  peers: PEERS,
  partition: { kind: 'shards', classesPerPeer: 4 },
  strategies: ['mean'],
  rounds: ROUNDS,
  localSteps: 10,
  batchSize: 16,
  samplesPerPeer: 200,
  validationPerClass: 2,
  testSubset: 200,
  codec: 'int8',
  transport: 'inproc',
  // neighbours and gossipSteps: the defaults (D = 8, two steps).
  deadline: { initialMs: 50, maxMs: 50 },
  seed: 3,
};

before(async () => {
  await initBackend('wasm');
});

/** Everything a seed fixes, per peer and round (not wall times), sorted. */
async function simulate(): Promise<{ lines: string[]; records: PeerRound[] }> {
  const setup = buildSetup(parseScenario(SCENARIO));
  const entry = setup.scenario.strategies[0];
  if (entry === undefined) throw new Error('no strategy');
  const run = await runStrategy(setup, entry);
  assert.equal(run.errorCount, 0, run.errors.join('; '));
  assert.equal(run.records.length, PEERS * ROUNDS);
  const lines = run.records
    .map(
      (r) =>
        `${r.peer}/${r.round}: merged ${r.merged?.overall} ${r.merged?.loss} local ${r.local?.loss} ` +
        `candidates ${r.candidates} lags ${r.candidateLags?.join(',')} from ${r.mergedFrom.join(',')} ` +
        `followers ${r.followers} bytes ${r.bytesSent}/${r.bytesReceived} closed ${r.stepsClosedBy?.join(',')}`,
    )
    .sort();
  return { lines, records: run.records };
}

test(
  'a seeded async run with D neighbours and two gossip steps gives the same numbers twice',
  {
    timeout: 300_000,
  },
  async () => {
    const first = await simulate();
    const second = await simulate();
    assert.deepEqual(second.lines, first.lines);
    const scenario = parseScenario(SCENARIO);
    assert.equal(scenario.neighbours, 8);
    // Two gossip steps every round, and neighbour mode (followers are reported).
    assert.ok(first.records.every((r) => r.stepsClosedBy?.length === 2 && r.followers !== undefined));
    // It learned something (not two untrained runs).
    const last = first.records.filter((r) => r.round === ROUNDS - 1).map((r) => r.merged?.overall ?? 0);
    assert.ok(Math.min(...last) > 0.3, last.join(' '));
  },
);
