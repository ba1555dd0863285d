/**
 * Gaps in a neighbour's update stream: a delta on a base the Peer does not hold makes it
 * fetch a snapshot (the author's public copy) and continue from there, bit for bit.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Bus } from '../../src/net/inproc-bus.ts';
import { HANG_GUARD, modelFor, nextEvent, Puppet, record, tinyBackend, tinyPeer, turns } from './tiny.ts';

before(tinyBackend);

test(
  'a delta on an unknown base triggers a snapshot fetch from its author; the copy catches up',
  { timeout: HANG_GUARD },
  async () => {
    const bus = new Bus();
    const a = tinyPeer(bus.join('a'));
    const log = record(a);
    const p = new Puppet(bus, 'p', a.schema); // keyframe first, then fp32 deltas
    await p.send(modelFor(a.schema, 0.5, 1)); // a is not subscribed yet: it misses the keyframe
    await bus.flush();
    await a.start();

    const first = nextEvent(a, 'snapshot:fetched');
    const delta = await p.send(modelFor(a.schema, 0.6, 2));
    assert.equal(delta.kind, 'delta');
    await bus.flush();
    assert.deepEqual(await first, { from: 'p', seq: 2 });
    assert.equal(p.snapshotRequests, 1);
    assert.deepEqual(a.receivedModel('p'), p.encoder.publicCopy(), 'the snapshot is the public copy at seq 2');
    assert.deepEqual(a.neighbours(), ['p'], 'a fetched snapshot makes the author a candidate');

    // The next delta applies on the fetched copy directly.
    await p.send(modelFor(a.schema, 0.7, 3));
    await bus.flush();
    assert.equal(p.snapshotRequests, 1, 'no second fetch');
    assert.deepEqual(log.accepted, [{ from: 'p', seq: 3 }]);
    assert.deepEqual(a.receivedModel('p'), p.encoder.publicCopy());

    // A lost delta in the middle: a holds 3, seq 5 applies on 4.
    p.encode(modelFor(a.schema, 0.8, 4));
    const second = nextEvent(a, 'snapshot:fetched');
    await p.send(modelFor(a.schema, 0.9, 5));
    await bus.flush();
    assert.deepEqual(await second, { from: 'p', seq: 5 });
    assert.equal(p.snapshotRequests, 2);
    assert.deepEqual(a.receivedModel('p'), p.encoder.publicCopy());
    assert.deepEqual(log.errors, []);
    await a.stop();
    await bus.stop();
  },
);

test(
  'a late joiner catches up from a running Peer through its snapshot responder',
  { timeout: HANG_GUARD },
  async () => {
    const bus = new Bus();
    const deadline = { initialMs: 0, minMs: 0 };
    const b = tinyPeer(bus.join('b'), { seed: 2, deadline });
    const witness = tinyPeer(bus.join('w'), { seed: 3 }); // subscribed from the start, never runs a round
    await b.start();
    await witness.start();
    await b.runRound();
    await b.runRound();
    await bus.flush();
    assert.equal(b.seq, 2);

    const late = tinyPeer(bus.join('late'), { seed: 4 });
    const fetched = nextEvent(late, 'snapshot:fetched');
    await late.start();
    await b.runRound(); // seq 3 is a delta on 2, which the late joiner never saw
    await bus.flush();
    assert.deepEqual(await fetched, { from: 'b', seq: 3 });
    const expected = witness.receivedModel('b');
    assert.ok(expected);
    assert.deepEqual(late.receivedModel('b'), expected, 'same public copy as a peer that saw every update');
    await Promise.all([b.stop(), witness.stop(), late.stop()]);
    await bus.stop();
  },
);

test(
  'no snapshot is fetched from an author we are not connected to; its next keyframe heals the gap',
  { timeout: HANG_GUARD },
  async () => {
    const bus = new Bus();
    const a = tinyPeer(bus.join('a'));
    await a.start();
    new Puppet(bus, 'relay', a.schema); // subscribed without a validator: forwards everything
    const p = new Puppet(bus, 'p', a.schema, { keyframeInterval: 3 }); // seqs 1 and 4 are keyframes
    bus.unlink('a', 'p'); // p's updates reach a only through the relay

    await p.send(modelFor(a.schema, 0.5, 1));
    await bus.flush();
    const held = p.encoder.publicCopy();
    assert.deepEqual(a.receivedModel('p'), held, 'the relayed keyframe was applied');
    p.encode(modelFor(a.schema, 0.6, 2)); // lost
    await p.send(modelFor(a.schema, 0.7, 3)); // a delta on 2: a gap at a
    await bus.flush();
    await turns();
    assert.equal(p.snapshotRequests, 0, 'a relayed public copy is not signed by its author: never fetched');
    assert.deepEqual(a.receivedModel('p'), held);

    const keyframe = await p.send(modelFor(a.schema, 0.8, 4));
    assert.equal(keyframe.kind, 'keyframe');
    await bus.flush();
    assert.deepEqual(a.receivedModel('p'), p.encoder.publicCopy(), 'healed by the keyframe');
    await a.stop();
    await bus.stop();
  },
);
