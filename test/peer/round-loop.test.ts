/**
 * The Peer's round loop over the in-process Bus with a tiny MLP: how a round closes
 * (enough fresh updates vs the deadline), neighbours ageing out of the candidates, and a
 * resumed peer continuing its round and seq numbering.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Bus } from '../../src/net/inproc-bus.ts';
import { createTaskTrainer } from '../../src/peer/create-peer.ts';
import type { LocalTraining, Peer } from '../../src/peer/peer.ts';
import { decodeHeader } from '../../src/wire/message.ts';
import { PublicCopies } from '../../src/wire/public-copies.ts';
import { HANG_GUARD, modelFor, Puppet, record, TINY_SPEC, tinyBackend, tinyPeer, tinySchema } from './tiny.ts';

before(tinyBackend);

const usedPeers = (r: { merge: { used: readonly { peer: string }[] } | undefined }): string[] =>
  (r.merge?.used ?? []).map((u) => u.peer).sort();

/** `puppet` answers every update `peer` publishes with one of its own. */
function echo(puppet: Puppet, peer: Peer, centre: number): void {
  puppet.onReceive((m) => {
    if (m.from === peer.id) void puppet.send(modelFor(peer.schema, centre, puppet.encoder.seq + 1));
  });
}

test(
  'a round closes on enough fresh updates, whether they came before or during the wait',
  { timeout: HANG_GUARD },
  async () => {
    const bus = new Bus();
    // The deadline is one no test waits for: only enough updates can close these rounds in time.
    const a = tinyPeer(bus.join('a'), { minFreshUpdates: 2 });
    const log = record(a);
    await a.start();
    const p = new Puppet(bus, 'p', a.schema);
    const q = new Puppet(bus, 'q', a.schema);

    // Round 0: both updates are already in when the wait starts.
    await p.send(modelFor(a.schema, 0.5, 1));
    await q.send(modelFor(a.schema, -0.5, 2));
    await bus.flush();
    const r0 = await a.runRound();
    assert.equal(r0.round, 0);
    assert.equal(r0.closedBy, 'enough-updates');
    assert.equal(r0.candidates, 2);
    assert.deepEqual(usedPeers(r0), ['p', 'q']);
    // The merge is timed, and training, the wait and the merge are disjoint parts of the round
    // on one clock (the 1e-9 absorbs float rounding of the sum, not time).
    assert.ok(r0.mergeMs > 0);
    assert.ok(r0.roundMs + 1e-9 >= r0.trainMs + r0.waitMs + r0.mergeMs, JSON.stringify(r0));

    // Round 1: p's update is in before the wait, q's only comes in reply to a's own update,
    // from a later event-loop turn, so it wakes a round that is already waiting.
    await p.send(modelFor(a.schema, 0.5, 3));
    await bus.flush();
    q.onReceive((m) => {
      if (m.from === 'a') setImmediate(() => void q.send(modelFor(a.schema, -0.5, 4)));
    });
    const r1 = await a.runRound();
    assert.equal(r1.closedBy, 'enough-updates');
    assert.equal(r1.candidates, 2);
    assert.deepEqual(
      r1.merge?.used.map((u) => `${u.peer}@${u.seq}`).sort(),
      ['p@2', 'q@2'],
      'both fresh models were merged',
    );
    assert.equal(a.round, 2);
    assert.deepEqual(
      log.rounds.map((r) => r.round),
      [0, 1],
    );
    assert.deepEqual(log.errors, []);
    await a.stop();
    await bus.stop();
  },
);

test(
  'a round closes on the deadline when too few fresh updates came, merging what it has',
  { timeout: HANG_GUARD },
  async () => {
    const bus = new Bus();
    const a = tinyPeer(bus.join('a'), { minFreshUpdates: 2, deadline: { initialMs: 20, minMs: 0 } });
    await a.start();
    const p = new Puppet(bus, 'p', a.schema);
    await p.send(modelFor(a.schema, 0.5));
    await bus.flush();

    const r0 = await a.runRound();
    assert.equal(r0.closedBy, 'deadline');
    assert.equal(r0.candidates, 1);
    assert.deepEqual(usedPeers(r0), ['p']);
    assert.ok((r0.merge?.ownShare ?? 1) < 1, 'the one candidate was merged');

    // Nothing new: the round still closes (on the deadline), p's older copy is still a candidate.
    const r1 = await a.runRound();
    assert.equal(r1.closedBy, 'deadline');
    assert.deepEqual(usedPeers(r1), ['p']);
    await a.stop();
    await bus.stop();
  },
);

test(
  'a neighbour silent for staleAfterRounds rounds leaves the candidates, and returns when heard again',
  { timeout: HANG_GUARD },
  async () => {
    const bus = new Bus();
    const a = tinyPeer(bus.join('a'), { minFreshUpdates: 1, staleAfterRounds: 2 });
    await a.start();
    const p = new Puppet(bus, 'p', a.schema);
    const q = new Puppet(bus, 'q', a.schema);
    echo(q, a, -0.5); // q answers every round; p speaks once, before round 0
    await p.send(modelFor(a.schema, 0.5));
    await bus.flush();

    const candidatesPerRound: string[][] = [];
    const neighboursAfter: string[][] = [];
    for (let r = 0; r < 3; r++) {
      const summary = await a.runRound();
      assert.equal(summary.closedBy, 'enough-updates');
      candidatesPerRound.push(usedPeers(summary));
      neighboursAfter.push(a.neighbours().sort());
    }
    // heard in round 0: a candidate in rounds 0 and 1 (0 and 1 rounds old), gone at 2 rounds
    assert.deepEqual(candidatesPerRound, [['p', 'q'], ['p', 'q'], ['q']]);
    assert.deepEqual(neighboursAfter, [['p', 'q'], ['q'], ['q']]);
    assert.ok(a.receivedModel('p'), 'its public copy is kept, only not offered to the merge');

    await p.send(modelFor(a.schema, 0.4, 2));
    await bus.flush();
    const back = await a.runRound();
    assert.deepEqual(usedPeers(back), ['p', 'q'], 'heard again: a candidate again');
    await a.stop();
    await bus.stop();
  },
);

test(
  'a peer resumed with {round, seq} continues both numberings; a neighbour accepts its updates',
  { timeout: HANG_GUARD },
  async () => {
    const bus = new Bus();
    const deadline = { initialMs: 0, minMs: 0 }; // alone on the bus: every round closes on the deadline
    const observer = new Puppet(bus, 'o', tinySchema());
    const copies = new PublicCopies({ schema: observer.encoder.schema });
    const lastFromA = (): Uint8Array => {
      const m = observer.received.filter((x) => x.from === 'a').at(-1);
      assert.ok(m, 'the observer received an update from a');
      return m.data;
    };

    // First life: three rounds, seqs 1..3, all applied by the observer.
    const firstGossip = bus.join('a');
    const first = tinyPeer(firstGossip, { deadline });
    await first.start();
    for (let r = 0; r < 3; r++) {
      await first.runRound();
      await bus.flush();
      assert.equal(copies.receive('a', lastFromA()).kind, 'applied');
    }
    assert.equal(first.round, 3);
    assert.equal(first.seq, 3);
    await first.stop();
    await firstGossip.stop();

    // Second life, as the daemon restarts it from a checkpoint: skip past seqs it might have used.
    const resumedGossip = bus.join('a');
    const resumed = tinyPeer(resumedGossip, { deadline, resume: { round: 3, seq: 8 } });
    assert.equal(resumed.round, 3);
    assert.equal(resumed.seq, 8);
    await resumed.start();
    const summary = await resumed.runRound();
    await bus.flush();
    assert.equal(summary.round, 3);
    assert.equal(resumed.round, 4);
    assert.equal(resumed.seq, 9);
    const header = decodeHeader(lastFromA());
    assert.deepEqual(
      { seq: header.seq, kind: header.kind, base: header.base },
      { seq: 9, kind: 'keyframe', base: 9 },
      'a restarted encoder starts with a keyframe after the resumed seq',
    );
    assert.equal(copies.receive('a', lastFromA()).kind, 'applied', 'the neighbour takes it as news');
    await resumed.stop();
    await resumedGossip.stop();

    // Without resume the same peer id starts again at seq 1, which neighbours refuse as stale.
    const fresh = tinyPeer(bus.join('a'), { deadline });
    await fresh.start();
    await fresh.runRound();
    await bus.flush();
    assert.equal(decodeHeader(lastFromA()).seq, 1);
    const refused = copies.receive('a', lastFromA());
    assert.equal(refused.kind === 'rejected' && refused.reason, 'stale-seq');
    await fresh.stop();
    await bus.stop();
  },
);

test(
  "a peer resumed from a checkpoint merges its neighbours' models before it trains",
  { timeout: HANG_GUARD },
  async () => {
    const bus = new Bus();
    const trainer = createTaskTrainer(TINY_SPEC, { seed: 1 });
    /** The model each local training starts from. */
    const startedFrom: number[][] = [];
    const training: LocalTraining = {
      trainAsync: (data, amount, options) => {
        startedFrom.push(Array.from(trainer.getWeights()[0]?.values ?? []));
        return trainer.trainAsync(data, amount, options);
      },
    };
    const a = tinyPeer(bus.join('a'), { trainer, training, resume: { round: 5, seq: 9 } });
    const checkpoint = Array.from(trainer.getWeights()[0]?.values ?? []);
    await a.start();
    const p = new Puppet(bus, 'p', a.schema);
    const q = new Puppet(bus, 'q', a.schema);
    echo(p, a, 0.5);
    echo(q, a, 0.5);
    // The neighbours went on while a was down: their models are already in when it resumes.
    await p.send(modelFor(a.schema, 0.5, 1));
    await q.send(modelFor(a.schema, 0.5, 2));
    const first = await a.runRound();
    assert.equal(first.caughtUp, 2, 'both neighbour models merged before training');
    const moved = (startedFrom[0] ?? []).map((v, i) => v - (checkpoint[i] ?? 0));
    const mean = moved.reduce((s, v) => s + v, 0) / moved.length;
    // Without the catch-up training starts from the checkpoint itself (shift 0); merged with
    // two models centred on 0.5 it moves towards them.
    assert.ok(mean > 0.1, `training started from the merged model (mean shift ${mean.toFixed(3)})`);
    const second = await a.runRound();
    assert.equal(second.caughtUp, undefined, 'only once, after the resume');
    await a.stop();
    await bus.stop();
  },
);
