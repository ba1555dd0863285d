import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OverlayGraph } from '../../src/net/graph.ts';
import { Bus } from '../../src/net/inproc-bus.ts';
import { gossipBehaviour } from './behaviour.ts';
import { busImpl } from './harness.ts';

gossipBehaviour(busImpl);

test('random-regular overlay: every node has degree d, the same seed gives the same graph', () => {
  const build = (seed: number) => {
    const g = new OverlayGraph({ kind: 'random-regular', degree: 8, seed });
    for (let i = 0; i < 300; i++) g.add(`n${i}`);
    return g;
  };
  const g = build(5);
  for (const n of g.nodes()) assert.equal(g.neighbours(n).length, 8, `degree of ${n}`);
  assert.deepEqual(build(5).edgeList(), g.edgeList());
  assert.notDeepEqual(build(6).edgeList(), g.edgeList());
  // removal re-pairs the orphans, so degrees are kept
  g.remove('n17');
  const degrees = g.nodes().map((n) => g.neighbours(n).length);
  assert.ok(
    degrees.every((d) => d === 8 || d === 7),
    `degrees after removal: ${[...new Set(degrees)]}`,
  );
});

test('1000 peers on a degree-8 overlay: one update reaches all, deterministic traffic', async () => {
  const run = async () => {
    const bus = new Bus({ topology: { kind: 'random-regular', degree: 8, seed: 42 } });
    const peers = Array.from({ length: 1000 }, (_, i) => bus.join(`p${i}`));
    let delivered = 0;
    for (const p of peers) p.subscribe('u', () => delivered++);
    const res = await peers[0].publish('u', new Uint8Array(1000));
    await bus.flush();
    const sent = bus.peerIds().reduce((s, id) => s + bus.traffic(id)!.bytesSent, 0);
    await bus.stop();
    return { recipients: res.recipients, delivered, sent };
  };
  const first = await run();
  assert.equal(first.recipients, 8);
  assert.equal(first.delivered, 999);
  // flooding: the author sends 8 copies, every other peer forwards to its 7 other neighbours
  assert.equal(first.sent, (8 + 999 * 7) * 1000);
  assert.deepEqual(await run(), first);
});

test('a rejecting peer stops propagation through it (line topology)', async () => {
  const bus = new Bus({ topology: { kind: 'random-regular', degree: 2, seed: 1 } });
  const [a, b, c] = ['a', 'b', 'c'].map((id) => bus.join(id));
  // a-b-c line
  bus.unlink('a', 'c');
  let atC = 0;
  a.subscribe('t', () => {});
  b.subscribe(
    't',
    () => {},
    () => 'reject',
  );
  c.subscribe('t', () => atC++);
  await a.publish('t', new Uint8Array(3));
  await bus.flush();
  assert.equal(atC, 0);
  assert.ok(b.score('a') < 0);
  bus.link('a', 'c');
  await a.publish('t', new Uint8Array(3));
  await bus.flush();
  assert.equal(atC, 1);
  await bus.stop();
});
