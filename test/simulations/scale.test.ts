/**
 * Issue 16, "a 200-peer in-process run of a few rounds fits the CI time and memory": 200
 * Peers of the default MLP (784-256-128-10, 235k parameters) through the simulation
 * runner on the in-process bus, neighbours D = 8, int8 deltas, 3 rounds. Every peer ends
 * every round, no merge sees more than D candidates, every peer's updates reach some
 * merge, and the run's memory stays within a per-peer budget: a peer rests as arrays
 * between uses (src/train/model-pool.ts) and holds at most D neighbours' copies, shared
 * read-only on the bus. A tfjs model per peer, or a copy of every sender per receiver,
 * would be 9-19 MiB per peer (docs/PERFORMANCE.md "In-process engine memory").
 *
 * No timing is asserted: the test timeout is only a hang guard. Training is kept small
 * (1 step of 16 samples per round) since the per-receiver work of the exchange (decode,
 * validate, merge: N x D model-sized passes) is what grows with N.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { type PeerRound, runStrategy } from '../../simulations/runner.ts';
import { parseScenario } from '../../simulations/scenario.ts';
import { buildSetup } from '../../simulations/setup.ts';
import { initBackend } from '../../src/train/backend.ts';

const PEERS = 200;
const D = 8;
const ROUNDS = 3;
/**
 * RSS budget per peer, MiB: (peak RSS - RSS before the peers were built) / PEERS. Measured
 * 2.8-3.3 MiB per peer at 100-1,000 peers for this model (docs/PERFORMANCE.md); the issue's
 * target is 4. The slack is for the test runner's own process and garbage not yet collected.
 */
const RSS_PER_PEER_MIB = 6;
const MIB = 1024 * 1024;

before(async () => {
  await initBackend('wasm');
});

test(
  `${PEERS} in-process peers of the default MLP, D = ${D}: every round ends, at most D candidates, within ${RSS_PER_PEER_MIB} MiB per peer`,
  { timeout: 900_000 },
  async () => {
    const setup = buildSetup(
      parseScenario({
        name: 'test-scale-200',
        dataset: 'mnist',
        model: 'mlp',
        peers: PEERS,
        partition: { kind: 'iid' },
        strategies: ['mean'],
        rounds: ROUNDS,
        localSteps: 1,
        batchSize: 16,
        samplesPerPeer: 16,
        validationPerClass: 1,
        publicValidationPerClass: 1,
        testSubset: 20,
        evaluateEvery: ROUNDS,
        codec: 'int8',
        transport: 'inproc',
        degree: D,
        neighbours: D,
        seed: 1,
      }),
    );
    const entry = setup.scenario.strategies[0];
    if (entry === undefined) throw new Error('no strategy');
    const before = process.memoryUsage.rss();
    let peak = before;
    const sample = (): void => {
      peak = Math.max(peak, process.memoryUsage.rss());
    };
    // On the bus a run can go long without reaching timers: every peer-round samples too.
    const timer = setInterval(sample, 100);
    let run: Awaited<ReturnType<typeof runStrategy>>;
    try {
      run = await runStrategy(setup, entry, { onRound: sample });
    } finally {
      clearInterval(timer);
    }
    sample();
    assert.equal(run.errorCount, 0, run.errors.join('; '));
    assert.equal(run.records.length, PEERS * ROUNDS, 'every peer ended every round');
    const rounds = new Map<number, PeerRound[]>();
    for (const r of run.records) rounds.set(r.round, [...(rounds.get(r.round) ?? []), r]);
    for (let round = 0; round < ROUNDS; round++) {
      assert.equal(new Set(rounds.get(round)?.map((r) => r.peer)).size, PEERS, `round ${round}: every peer`);
    }
    const over = run.records.filter((r) => r.candidates > D);
    assert.deepEqual(
      over.map((r) => `${r.peer}/${r.round}: ${r.candidates}`),
      [],
      'no merge sees more than D candidates',
    );
    // Dissemination works: every peer's updates were used by someone's merge.
    const used = new Set(run.records.flatMap((r) => r.mergedFrom));
    const unused = setup.peers.map((p) => p.index).filter((i) => !used.has(i));
    assert.deepEqual(unused, [], 'peers whose updates no merge used');
    const perPeer = (peak - before) / PEERS / MIB;
    assert.ok(
      perPeer <= RSS_PER_PEER_MIB,
      `RSS grew ${((peak - before) / MIB).toFixed(0)} MiB, ${perPeer.toFixed(2)} MiB per peer > ${RSS_PER_PEER_MIB}`,
    );
    console.log(
      `${PEERS} peers x ${ROUNDS} rounds: ${(run.setupMs / 1000).toFixed(1)} s set-up, ${((run.elapsedMs - run.setupMs) / 1000 / ROUNDS).toFixed(1)} s/round, ` +
        `${perPeer.toFixed(2)} MiB RSS per peer (peak ${(peak / MIB).toFixed(0)} MiB), candidates mean ${(run.records.reduce((a, r) => a + r.candidates, 0) / run.records.length).toFixed(2)}`,
    );
  },
);
