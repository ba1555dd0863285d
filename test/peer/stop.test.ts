/**
 * Peer.stop(): wherever the loop is (waiting for updates, training, fetching a snapshot
 * that never comes), stop() ends it without waiting for a deadline or a timeout, and the
 * peer leaves the updates topic. The deadlines here are far longer than the hang guard,
 * so a stop() that waited for them fails the test.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Bus } from '../../src/net/inproc-bus.ts';
import { HANG_GUARD, heldTraining, modelFor, Puppet, record, tinyBackend, tinyPeer, turns } from './tiny.ts';

before(tinyBackend);

test(
  'stop() during the wait for updates ends the round and the loop, and leaves the topic',
  { timeout: HANG_GUARD },
  async () => {
    const bus = new Bus();
    const a = tinyPeer(bus.join('a'), { minFreshUpdates: 5 }); // nobody will send 5
    const log = record(a);
    await a.start();
    const p = new Puppet(bus, 'p', a.schema);
    const published = new Promise<void>((resolve) => p.onReceive((m) => m.from === 'a' && resolve()));

    const running = a.run();
    await published;
    await turns(); // a is now waiting for 4 more updates
    assert.equal(await p.sendBytes(p.encode(modelFor(a.schema, 0.5)).bytes), 1, 'a is subscribed while it runs');
    await bus.flush();
    assert.equal(log.accepted.length, 1);

    await a.stop();
    await running;
    assert.equal(log.rounds.length, 1);
    assert.equal(log.rounds[0]?.closedBy, 'stopped');
    assert.equal(log.rounds[0]?.candidates, 1, 'what arrived is still merged');
    assert.equal(a.round, 1);

    assert.equal(await p.sendBytes(p.encode(modelFor(a.schema, 0.6, 2)).bytes), 0, 'a left the topic');
    await bus.flush();
    assert.equal(log.accepted.length, 1);
    await a.stop(); // a second stop is harmless
    assert.deepEqual(log.errors, []);
    await bus.stop();
  },
);

test('stop() during local training aborts it and ends the loop after that round', { timeout: HANG_GUARD }, async () => {
  const bus = new Bus();
  const training = heldTraining(); // trains until the peer's signal aborts
  const a = tinyPeer(bus.join('a'), { minFreshUpdates: 5, training });
  const log = record(a);
  await a.start();
  const running = a.run();
  await training.started;
  await turns();
  assert.equal(training.aborted, false);
  await a.stop();
  await running;
  assert.ok(training.aborted, 'the training step saw the abort');
  assert.deepEqual(
    log.rounds.map((r) => r.closedBy),
    ['stopped'],
  );
  await bus.stop();
});

test('stop() while a snapshot fetch hangs aborts the fetch and reports no error', { timeout: HANG_GUARD }, async () => {
  const bus = new Bus();
  const a = tinyPeer(bus.join('a'), { snapshotTimeoutMs: 60_000 });
  const log = record(a);
  await a.start();
  const p = new Puppet(bus, 'p', a.schema);
  p.snapshots = () => new Promise<Uint8Array>(() => {}); // never answers
  p.encode(modelFor(a.schema, 0.5, 1)); // lost keyframe
  await p.send(modelFor(a.schema, 0.6, 2)); // delta on it: a fetches
  await bus.flush();
  assert.equal(p.snapshotRequests, 1);

  await a.stop();
  await turns();
  assert.deepEqual(log.errors, [], 'an aborted fetch is not an error');
  assert.equal(a.receivedModel('p'), undefined);
  await bus.stop();
});
