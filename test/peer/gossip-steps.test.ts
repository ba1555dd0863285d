/**
 * Gossip steps (PeerOptions.gossipSteps): after a round's merge the merged model is
 * published and merged again with the neighbours' newest copies, steps - 1 more times,
 * before the round ends; with the default (1) a round publishes once and merges once.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Weights } from '../../src/model/weights.ts';
import { Bus } from '../../src/net/inproc-bus.ts';
import { defaultGossipSteps, type Peer } from '../../src/peer/peer.ts';
import type { Trainer } from '../../src/train/trainer.ts';
import { decodeHeader } from '../../src/wire/message.ts';
import { PublicCopies } from '../../src/wire/public-copies.ts';
import { HANG_GUARD, modelFor, Puppet, record, tinyBackend, tinyPeer } from './tiny.ts';

before(tinyBackend);

const PUPPET_SAMPLES = 10;

/** `puppet` answers every update `peer` publishes with a model centred at centres[k] for its k-th answer. */
function answer(puppet: Puppet, peer: Peer, centres: readonly number[], sent: Weights[]): void {
  puppet.onReceive((m) => {
    if (m.from !== peer.id) return;
    const w = modelFor(peer.schema, centres[sent.length] ?? 0, sent.length + 1);
    sent.push(w);
    void puppet.send(w, PUPPET_SAMPLES);
  });
}

function exchanged(peer: Peer): Weights {
  const names = new Set(peer.schema.layers.map((l) => l.name));
  return peer.trainer.getWeights().filter((l) => names.has(l.name));
}

/** (wa x a + wb x b) / (wa + wb), layer by layer. */
function weighted(a: Weights, wa: number, b: Weights, wb: number): Weights {
  return a.map((l, i) => ({
    ...l,
    values: l.values.map((v, j) => (wa * v + wb * (b[i]?.values[j] ?? Number.NaN)) / (wa + wb)),
  }));
}

function assertClose(actual: Weights, expected: Weights, what: string): void {
  for (const [i, l] of actual.entries()) {
    const e = expected[i];
    assert.ok(e, what);
    for (let j = 0; j < l.values.length; j++) {
      assert.ok(Math.abs((l.values[j] ?? 0) - (e.values[j] ?? 0)) < 1e-5, `${what}: ${l.name}[${j}]`);
    }
  }
}

for (const steps of [1, 2, 3]) {
  test(
    `gossipSteps ${steps}: a round publishes ${steps} time(s) and merges each neighbour answer in turn`,
    {
      timeout: HANG_GUARD,
    },
    async () => {
      const bus = new Bus();
      const a = tinyPeer(bus.join('a'), { minFreshUpdates: 1, gossipSteps: steps });
      const log = record(a);
      await a.start();
      const p = new Puppet(bus, 'p', a.schema);
      const sent: Weights[] = [];
      answer(p, a, [0.5, -0.5, 0.25, 1], sent);
      const copies = new PublicCopies({ schema: a.schema });
      const published = (): Weights[] =>
        p.received
          .filter((m) => m.from === 'a')
          .map((m) => {
            const r = copies.receive('a', m.data);
            assert.equal(r.kind, 'applied');
            return r.kind === 'applied'
              ? r.copy.weights.map((l) => ({ ...l, values: Float32Array.from(l.values) }))
              : [];
          });

      const r0 = await a.runRound();
      await bus.flush();
      assert.equal(r0.round, 0);
      assert.equal(a.round, 1, 'one round, however many steps');
      assert.equal(a.seq, steps, 'one publication per step');
      const models = published();
      assert.equal(models.length, steps);
      assert.equal(sent.length, steps, 'the puppet answered every publication');
      // own samples (48) against the puppet's 10: step k merges the model published at step
      // k + 1 (fp32, exact) ... the last merge is what the round ends with.
      const own = 48; // tinyData: 48 training samples
      for (let k = 0; k + 1 < steps; k++) {
        const before = models[k];
        const next = models[k + 1];
        const theirs = sent[k];
        assert.ok(before && next && theirs);
        assertClose(
          next,
          weighted(before, own, theirs, PUPPET_SAMPLES),
          `step ${k + 1} published the merge of step ${k}`,
        );
      }
      const last = models.at(-1);
      const theirs = sent[steps - 1];
      assert.ok(last && theirs);
      assertClose(exchanged(a), weighted(last, own, theirs, PUPPET_SAMPLES), 'the round ends on the last merge');
      assert.deepEqual(log.errors, []);
      assert.equal(log.rounds.length, 1);
      await a.stop();
      await bus.stop();
    },
  );
}

test('default gossip steps: 2 with D neighbours, 1 with "all"', () => {
  assert.equal(defaultGossipSteps('all'), 1);
  assert.equal(defaultGossipSteps(8), 2);
  assert.equal(defaultGossipSteps(1), 2);
});

test('gossipSteps must be an integer in [1, 8]', () => {
  const bus = new Bus();
  for (const bad of [0, -1, 1.5, 9, Number.NaN]) {
    assert.throws(() => tinyPeer(bus.join(`x${String(bad)}`), { gossipSteps: bad }), /gossipSteps/);
  }
});

for (const mode of ['keep', 'reset'] as const) {
  test(
    `momentumAfterMerge ${mode}: the optimizer momentum is ${mode === 'keep' ? 'kept' : 'dropped'} at the merge`,
    {
      timeout: HANG_GUARD,
    },
    async () => {
      const bus = new Bus();
      const a = tinyPeer(bus.join('a'), { minFreshUpdates: 1, momentumAfterMerge: mode });
      await a.start();
      const p = new Puppet(bus, 'p', a.schema);
      answer(p, a, [0.5], []);
      await a.runRound();
      const trainer = a.trainer as unknown as Trainer;
      const velocity = trainer.exportState().velocity;
      if (mode === 'keep') {
        assert.ok(
          velocity?.some((v) => v.some((x) => x !== 0)),
          'momentum after training',
        );
      } else {
        assert.equal(velocity, undefined);
      }
      await a.stop();
      await bus.stop();
    },
  );
}

test(
  'with several gossip steps, every step waits for every current candidate, not just minFreshUpdates',
  {
    timeout: HANG_GUARD,
  },
  async () => {
    const bus = new Bus();
    const a = tinyPeer(bus.join('a'), { minFreshUpdates: 1, gossipSteps: 2 });
    const log = record(a);
    await a.start();
    const p = new Puppet(bus, 'p', a.schema);
    const q = new Puppet(bus, 'q', a.schema);
    // Both are candidates (and fresh) before the round starts: step 1 merges these.
    const p0 = modelFor(a.schema, 0.1, 100);
    const q0 = modelFor(a.schema, -0.1, 101);
    await p.send(p0, PUPPET_SAMPLES);
    await q.send(q0, PUPPET_SAMPLES);
    await bus.flush();
    const fromP: Weights[] = [];
    const fromQ: Weights[] = [];
    // They answer a's second publication (its step-2 model) only, p at once and q late (a
    // later timer turn): a step that closed on minFreshUpdates (1) would merge p's answer
    // with q's older copy.
    for (const [puppet, sent, centre, delay] of [
      [p, fromP, 0.5, 0],
      [q, fromQ, -0.5, 30],
    ] as const) {
      puppet.onReceive((m) => {
        if (m.from !== a.id || decodeHeader(m.data).seq !== 2) return;
        const w = modelFor(a.schema, centre, 200 + sent.length);
        sent.push(w);
        setTimeout(() => void puppet.send(w, PUPPET_SAMPLES), delay);
      });
    }
    const copies = new PublicCopies({ schema: a.schema });
    const r0 = await a.runRound();
    const models = p.received
      .filter((m) => m.from === 'a')
      .map((m) => {
        const r = copies.receive('a', m.data);
        assert.equal(r.kind, 'applied');
        return r.kind === 'applied' ? r.copy.weights.map((l) => ({ ...l, values: Float32Array.from(l.values) })) : [];
      });
    assert.equal(models.length, 2);
    assert.equal(r0.candidates, 2);
    const [first, second] = models;
    const p1 = fromP[0];
    const q1 = fromQ[0];
    assert.ok(first && second && p1 && q1);
    const own = 48;
    const three = (x: Weights, y: Weights, z: Weights): Weights =>
      weighted(weighted(x, own, y, PUPPET_SAMPLES), own + PUPPET_SAMPLES, z, PUPPET_SAMPLES);
    assertClose(second, three(first, p0, q0), 'step 1 merged both copies held at the round start');
    assertClose(exchanged(a), three(second, p1, q1), "step 2 waited for q's late answer and merged both answers");
    assert.deepEqual(log.errors, []);
    await a.stop();
    await bus.stop();
  },
);
