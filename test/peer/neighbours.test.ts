/**
 * Neighbour-bounded dissemination (src/peer/neighbourhood.ts) with real Peers: on the
 * in-process bus, every merge sees at most D candidates, nothing travels on the gossip
 * topic, each peer follows at most D peers and updates reach only followers.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Bus } from '../../src/net/inproc-bus.ts';
import type { RoundSummary } from '../../src/peer/events.ts';
import type { Peer } from '../../src/peer/peer.ts';
import { tinyBackend, tinyPeer } from './tiny.ts';

before(tinyBackend);

test('on the bus, 12 peers with D = 3: at most 3 candidates per merge, updates only by push to followers', async () => {
  const bus = new Bus();
  const D = 3;
  const peers: Peer[] = [];
  const rounds = new Map<string, RoundSummary[]>();
  for (let i = 0; i < 12; i++) {
    const p = tinyPeer(bus.join(`p${i}`), {
      seed: i + 1,
      neighbours: D,
      minFreshUpdates: 2,
      deadline: { initialMs: 300, minMs: 50, maxMs: 1000 },
    });
    p.addEventListener('round:end', (e) => {
      const list = rounds.get(p.id) ?? [];
      list.push(e.detail);
      rounds.set(p.id, list);
    });
    p.addEventListener('error', (e) => assert.fail(`${p.id}: ${e.detail.message}`));
    peers.push(p);
  }
  for (const p of peers) await p.start();
  await Promise.all(peers.map((p) => p.run(6)));
  for (const p of peers) {
    const list = rounds.get(p.id) ?? [];
    assert.equal(list.length, 6);
    for (const r of list) assert.ok(r.candidates <= D, `${p.id} round ${r.round}: ${r.candidates} candidates`);
    assert.ok(
      list.slice(2).some((r) => r.candidates >= 1),
      `${p.id} merged neighbours: ${list.map((r) => r.candidates)}`,
    );
    assert.ok((p.following() ?? []).length <= D);
    assert.ok(p.neighbours().length <= D);
    const t = bus.traffic(p.id);
    assert.equal(t?.bytesSent, 0, 'nothing on the gossip topic');
  }
  console.log([...rounds.values()].map((l) => l.map((r) => r.candidates).join('')).join(' '));
  await Promise.all(peers.map((p) => p.stop()));
  await bus.stop();
});
