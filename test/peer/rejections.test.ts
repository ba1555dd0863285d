/**
 * Rejected updates and reputation: late (stale-seq) and duplicate (replayed) updates are
 * ordinary on a mesh and cost their sender nothing; malformed ones are penalised, on every
 * path an update can take into the Peer (gossip validator, apply, snapshot response).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Bus } from '../../src/net/inproc-bus.ts';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import { encodeMessage } from '../../src/wire/message.ts';
import {
  HANG_GUARD,
  modelFor,
  nextEvent,
  Puppet,
  record,
  TINY_TASK,
  TOPIC,
  tap,
  tinyBackend,
  tinyPeer,
  turns,
} from './tiny.ts';

before(tinyBackend);

const BENIGN = new Set(['stale-seq', 'replayed']);
const garbage = Uint8Array.from({ length: 200 }, (_, i) => (i * 37 + 11) & 0xff);

test(
  'late and replayed updates are dropped without penalty; malformed ones are penalised and never merged',
  { timeout: HANG_GUARD },
  async () => {
    const bus = new Bus();
    const gossip = bus.join('a');
    const a = tinyPeer(gossip, { deadline: { initialMs: 0, minMs: 0 } });
    const log = record(a);
    await a.start();
    const p = new Puppet(bus, 'p', a.schema, { keyframeInterval: 1 });
    const m = new Puppet(bus, 'm', a.schema);

    const [k1, k2, k3] = [1, 2, 3].map((i) => p.encode(modelFor(a.schema, 0.1 * i, i)));
    assert.ok(k1 && k2 && k3);
    const latest = p.encoder.publicCopy();
    for (const update of [k1, k3, k2, k3]) await p.sendBytes(update.bytes); // k2 late, k3 again
    await bus.flush();
    assert.deepEqual(log.accepted, [
      { from: 'p', seq: 1 },
      { from: 'p', seq: 3 },
    ]);
    assert.ok(
      log.rejected.every((r) => r.from === 'p' && BENIGN.has(r.reason)),
      `only benign reasons: ${JSON.stringify(log.rejected)}`,
    );
    assert.equal(bus.traffic('a')?.dropped, 2, 'the late and the replayed copy were dropped');
    assert.equal(gossip.score('p'), 0, 'and cost p nothing');
    assert.deepEqual(a.receivedModel('p'), latest);

    // Garbage, a model of another task, a keyframe with a NaN in it.
    const model = modelFor(a.schema, 0);
    const fp32 = parseCodec('fp32');
    const nonFinite = encodeMessage(
      {
        kind: 'keyframe',
        taskId: TINY_TASK,
        fingerprint: a.schema.fingerprint,
        seq: 1,
        base: 1,
        samples: 5,
        codec: fp32,
      },
      model,
    );
    new DataView(nonFinite.buffer, nonFinite.byteOffset).setFloat32(nonFinite.byteLength - 4, Number.NaN, true);
    const otherTask = encodeMessage(
      {
        kind: 'keyframe',
        taskId: 'other-task',
        fingerprint: a.schema.fingerprint,
        seq: 2,
        base: 2,
        samples: 5,
        codec: fp32,
      },
      model,
    );
    for (const bytes of [garbage, nonFinite, otherTask]) await m.sendBytes(bytes);
    await bus.flush();
    const fromM = log.rejected.filter((r) => r.from === 'm');
    assert.equal(fromM.length, 3, JSON.stringify(fromM));
    assert.ok(
      fromM.every((r) => !BENIGN.has(r.reason)),
      JSON.stringify(fromM),
    );
    assert.ok(gossip.score('m') < 0, `m penalised: ${gossip.score('m')}`);
    assert.equal(gossip.score('p'), 0);
    assert.equal(a.receivedModel('m'), undefined);

    const summary = await a.runRound();
    assert.deepEqual(
      summary.merge?.used.map((u) => u.peer),
      ['p'],
      'only p reaches the merge',
    );
    await a.stop();
    await bus.stop();
  },
);

test(
  'after the validator: a copy applied twice is reported but not penalised; an unvalidated bad one is',
  { timeout: HANG_GUARD },
  async () => {
    const bus = new Bus();
    const tapped = tap(bus.join('a'));
    const a = tinyPeer(tapped.gossip);
    const log = record(a);
    await a.start();
    const p = new Puppet(bus, 'p', a.schema, { keyframeInterval: 1 });
    const validate = tapped.validator();
    const deliver = tapped.handler();

    // Two copies of seq 1 both validated before either is applied (gossipsub validates
    // asynchronously, so this interleaving happens on a real mesh).
    const k1 = p.encode(modelFor(a.schema, 0.1, 1)).bytes;
    const copies = [k1.slice(), k1.slice()].map((data) => ({ from: 'p', topic: TOPIC, data }));
    for (const c of copies) assert.equal(await validate(c), 'accept');
    for (const c of copies) deliver(c);
    // Seq 3 applied before seq 2, both validated against seq 1.
    const k2 = { from: 'p', topic: TOPIC, data: p.encode(modelFor(a.schema, 0.2, 2)).bytes };
    const k3 = { from: 'p', topic: TOPIC, data: p.encode(modelFor(a.schema, 0.3, 3)).bytes };
    for (const c of [k2, k3]) assert.equal(await validate(c), 'accept');
    deliver(k3);
    deliver(k2);
    assert.deepEqual(log.accepted, [
      { from: 'p', seq: 1 },
      { from: 'p', seq: 3 },
    ]);
    assert.deepEqual(
      log.rejected.map((r) => `${r.from}:${r.reason}`),
      ['p:replayed', 'p:stale-seq'],
    );
    assert.equal(tapped.penalties.length, 0, 'benign rejections are not penalised');
    assert.equal(tapped.gossip.score('p'), 0);

    // A message the validator never saw (an implementation without validators) that does not decode.
    deliver({ from: 'm', topic: TOPIC, data: garbage });
    assert.equal(tapped.penalties.length, 1);
    assert.equal(tapped.penalties[0]?.peer, 'm');
    assert.ok(!BENIGN.has(tapped.penalties[0]?.reason ?? ''), JSON.stringify(tapped.penalties));
    assert.ok(tapped.gossip.score('m') < 0);
    await a.stop();
    await bus.stop();
  },
);

test(
  'snapshot responses: a stale one costs nothing, a malformed one is penalised, a good one heals',
  { timeout: HANG_GUARD },
  async () => {
    const bus = new Bus();
    const tapped = tap(bus.join('a'));
    const a = tinyPeer(tapped.gossip);
    const log = record(a);
    await a.start();
    const p = new Puppet(bus, 'p', a.schema); // keyframe, then deltas
    await p.send(modelFor(a.schema, 0.1, 1));
    await bus.flush();
    const held = p.encoder.publicCopy();
    assert.deepEqual(a.receivedModel('p'), held);

    // p answers a gap with its old snapshot (seq 1, which a already holds): replayed, benign.
    const stale = p.encoder.snapshot();
    assert.ok(stale);
    p.snapshots = async () => stale;
    p.encode(modelFor(a.schema, 0.2, 2)); // lost
    await p.send(modelFor(a.schema, 0.3, 3)); // delta on 2: gap
    await bus.flush();
    await turns();
    assert.equal(p.snapshotRequests, 1);
    assert.equal(tapped.penalties.length, 0, 'a stale snapshot costs nothing');
    assert.equal(log.rejected.length, 0);
    assert.deepEqual(a.receivedModel('p'), held, 'still at seq 1');

    // Garbage instead of a snapshot: penalised and reported.
    p.snapshots = async () => garbage;
    await p.send(modelFor(a.schema, 0.4, 4)); // delta on 3: still a gap
    await bus.flush();
    await turns();
    assert.equal(p.snapshotRequests, 2);
    assert.deepEqual(
      tapped.penalties.map((x) => x.peer),
      ['p'],
    );
    assert.equal(log.rejected.length, 1);
    assert.match(log.rejected[0]?.detail ?? '', /^snapshot: /);
    assert.ok(tapped.gossip.score('p') < 0);

    // An honest answer: caught up.
    p.snapshots = async () => p.encoder.snapshot() ?? new Uint8Array(0);
    const fetched = nextEvent(a, 'snapshot:fetched');
    await p.send(modelFor(a.schema, 0.5, 5));
    await bus.flush();
    assert.deepEqual(await fetched, { from: 'p', seq: 5 });
    assert.deepEqual(a.receivedModel('p'), p.encoder.publicCopy());
    assert.deepEqual(log.errors, []);
    await a.stop();
    await bus.stop();
  },
);
