/**
 * The task protocol over the in-process Bus: a peer serves its TaskSpec, answers are
 * validated like every peer message, and a 'wrong-fingerprint' rejection makes the
 * receiver fetch the sender's task (once per sender per interval) and say what differs.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Bus } from '../../src/net/inproc-bus.ts';
import type { TaskMismatchEvent } from '../../src/peer/events.ts';
import { encodeTaskSpec, parseTaskSpec, type TaskSpec, taskSpecRecord } from '../../src/peer/task.ts';
import { decodeTask, fetchTask, serveTask, TASK_PROTOCOL, TaskProbeLimiter } from '../../src/peer/task-exchange.ts';
import { PublicCopyEncoder } from '../../src/wire/public-copies.ts';
import {
  HANG_GUARD,
  modelFor,
  nextEvent,
  record,
  TINY_SPEC,
  TOPIC,
  tap,
  tinyBackend,
  tinyPeer,
  tinySchema,
} from './tiny.ts';

before(tinyBackend);

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

test(
  'a served task arrives parsed and equal; a peer that serves none is unavailable',
  { timeout: HANG_GUARD },
  async () => {
    const bus = new Bus();
    const server = bus.join('server');
    const client = bus.join('client');
    bus.join('silent');
    await serveTask(server, TINY_SPEC);
    const got = await fetchTask(client, 'server');
    assert.ok(got.ok, JSON.stringify(got));
    assert.deepEqual(got.task, TINY_SPEC);
    const none = await fetchTask(client, 'silent');
    assert.equal(none.ok ? 'ok' : none.reason, 'unavailable');
    // Requests carry no body.
    await assert.rejects(client.fetch('server', TASK_PROTOCOL, Uint8Array.of(1)), /too-large|request 1 > 0/);
  },
);

test('decodeTask refuses what is not a task, naming why', () => {
  const reason = (bytes: Uint8Array): string => {
    const r = decodeTask(bytes);
    return r.ok ? 'ok' : `${r.reason}: ${r.detail}`;
  };
  assert.equal(reason(text(encodeTaskSpec(TINY_SPEC))), 'ok');
  assert.match(reason(text('{"taskId": ')), /^invalid-task: not JSON/);
  assert.match(reason(Uint8Array.of(0xff, 0xfe)), /^invalid-task: not JSON/);
  assert.match(reason(text('{"batchSize": -1}')), /^invalid-task: batchSize: must be at least 1/);
  assert.match(reason(new Uint8Array(256 * 1024 + 1)), /^invalid-task: 262145 bytes, limit 262144/);
});

test('TaskProbeLimiter: once per peer per interval, bounded memory', () => {
  const limiter = new TaskProbeLimiter(1000, 2);
  assert.equal(limiter.take('a', 0), true);
  assert.equal(limiter.take('a', 999), false);
  assert.equal(limiter.take('b', 10), true);
  assert.equal(limiter.take('a', 1000), true, 'after the interval');
  assert.equal(limiter.take('c', 1001), true, 'a third peer evicts the oldest (b)');
  assert.equal(limiter.take('b', 1002), true, 'b was forgotten');
  assert.equal(limiter.take('c', 1003), false);
});

/** A started tiny peer of `task` on `bus` (serving its task), and an encoder for its updates. */
async function mismatched(bus: Bus, id: string, task: TaskSpec) {
  const gossip = bus.join(id);
  const peer = tinyPeer(gossip, { task });
  await peer.start();
  const encoder = new PublicCopyEncoder({ schema: peer.schema, codec: task.codec });
  const send = async (round: number) =>
    gossip.publish(TOPIC, encoder.encodeUpdate(modelFor(peer.schema, 0.1 * round, round), 10).bytes);
  return { peer, send };
}

test(
  'after a wrong-fingerprint rejection the receiver fetches the sender task once and names the field',
  { timeout: HANG_GUARD },
  async () => {
    const bus = new Bus();
    const a = tinyPeer(bus.join('a'));
    const log = record(a);
    const mismatches: TaskMismatchEvent[] = [];
    a.addEventListener('task:mismatch', (e) => mismatches.push(e.detail));
    await a.start();
    const b = await mismatched(bus, 'b', parseTaskSpec({ ...taskSpecRecord(TINY_SPEC), modelSeed: 12 }));
    const c = await mismatched(
      bus,
      'c',
      parseTaskSpec({ ...taskSpecRecord(TINY_SPEC), model: { kind: 'mlp', hidden: [5] } }),
    );

    const first = nextEvent(a, 'task:mismatch');
    await b.send(1);
    const fromB = await first;
    assert.equal(fromB.from, 'b');
    assert.deepEqual(fromB.theirs, b.peer.task);
    assert.deepEqual(
      fromB.mismatch.differences.map((d) => [d.key, d.ours, d.theirs, d.blocking]),
      [['modelSeed', '11', '12', true]],
    );
    assert.equal(fromB.mismatch.summary, 'b runs modelSeed 12; this peer runs 11: set modelSeed to 12');

    // b again (rate-limited: no second fetch), then c: once c's answer is in, a second
    // probe of b, started earlier, would have been answered too.
    await b.send(2);
    const fromC = nextEvent(a, 'task:mismatch');
    await c.send(1);
    assert.equal(
      (await fromC).mismatch.summary,
      'c runs model.hidden mlp [5]; this peer runs mlp [4]: set model.hidden to [5]',
    );
    assert.deepEqual(
      mismatches.map((m) => m.from),
      ['b', 'c'],
    );
    assert.deepEqual(
      log.rejected.map((r) => `${r.from} ${r.reason}`),
      ['b wrong-fingerprint', 'b wrong-fingerprint', 'c wrong-fingerprint'],
    );
    await Promise.all([a.stop(), b.peer.stop(), c.peer.stop()]);
  },
);

test('an answer that is not a task is rejected at stage "task" and penalised', { timeout: HANG_GUARD }, async () => {
  const bus = new Bus();
  const tapped = tap(bus.join('a'));
  const a = tinyPeer(tapped.gossip);
  await a.start();
  const liar = bus.join('m');
  await liar.handle(TASK_PROTOCOL, async () => text('{"model": "transformer"}'));
  const other = parseTaskSpec({ ...taskSpecRecord(TINY_SPEC), modelSeed: 99 });
  const schema = tinySchema(other);
  const encoder = new PublicCopyEncoder({ schema, codec: other.codec });
  const rejected = new Promise<string>((resolve) => {
    a.addEventListener('update:rejected', (e) => {
      if (e.detail.stage === 'task') resolve(`${e.detail.from} ${e.detail.reason}: ${e.detail.detail}`);
    });
  });
  await liar.publish(TOPIC, encoder.encodeUpdate(modelFor(schema, 0), 10).bytes);
  assert.match(await rejected, /^m invalid-task: model: unknown model "transformer"/);
  assert.ok(tapped.penalties.some((p) => p.peer === 'm' && p.reason === 'invalid-task'));
  await a.stop();
});
