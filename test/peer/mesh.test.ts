/**
 * The Peer round loop over real libp2p nodes (memory transport) training MNIST:
 * accuracy rises at every honest peer, a late joiner catches up through a snapshot, a
 * node publishing malformed and non-finite updates is rejected by all and never reaches
 * a merge, and a node killed mid-run does not stall the others.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createLibp2pGossip, type Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { createMemoryLibp2p } from '../../src/net/memory-factory.ts';
import { connectTopology, waitForSubscribers } from '../../src/net/topology.ts';
import type { RoundSummary } from '../../src/peer/events.ts';
import type { Peer } from '../../src/peer/peer.ts';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import { encodeMessage } from '../../src/wire/message.ts';
import { updatesTopic } from '../../src/wire/topic.ts';
import { peerKit, TASK } from './fixtures.ts';

const HONEST = 5;
const gossips: Libp2pGossip[] = [];
after(async () => {
  await Promise.allSettled(gossips.map((g) => g.stop()));
});

function collect(peer: Peer): { rounds: RoundSummary[]; rejected: Array<{ from: string; reason: string }> } {
  const rounds: RoundSummary[] = [];
  const rejected: Array<{ from: string; reason: string }> = [];
  peer.addEventListener('round:end', (e) => rounds.push(e.detail));
  peer.addEventListener('update:rejected', (e) => rejected.push({ from: e.detail.from, reason: e.detail.reason }));
  return { rounds, rejected };
}

test(
  'five honest peers, a late joiner, a malicious node and a killed node over libp2p',
  {
    timeout: 240_000,
  },
  async (t) => {
    const kit = await peerKit(HONEST + 1, { strategy: 'mean' });
    // Nodes 0..4 honest, 5 late joiner, 6 malicious.
    for (let i = 0; i < HONEST + 2; i++) gossips.push(await createLibp2pGossip(await createMemoryLibp2p()));
    await connectTopology(
      gossips.map((g) => g.node),
      { kind: 'full' },
    );
    // Updates over the gossip topic (where the malicious node publishes); the neighbour-bounded
    // path is tested in test/peer/neighbours.test.ts.
    const honest = gossips.slice(0, HONEST).map((g, i) => kit.make(g, i, { neighbours: 'all' }));
    const logs = honest.map(collect);
    for (const p of honest) await p.start();
    const malicious = gossips[HONEST + 1];
    const topic = updatesTopic(TASK);
    malicious.subscribe(topic, () => {});
    await waitForSubscribers(
      gossips.map((g) => g.node),
      topic,
      { timeout: 30_000 },
    );

    // The malicious node sends garbage, a non-finite keyframe and a wrong-task message.
    const schema = honest[0]?.schema;
    assert.ok(schema);
    const model = schema.layers.map((l) => ({ name: l.name, shape: [...l.shape], values: new Float32Array(l.size) }));
    const fp32 = parseCodec('fp32');
    // The encoder refuses NaN, so patch the last fp32 value of a valid keyframe to NaN.
    const nonFinite = encodeMessage(
      { kind: 'keyframe', taskId: TASK, fingerprint: schema.fingerprint, seq: 1, base: 1, samples: 10, codec: fp32 },
      model,
    );
    new DataView(nonFinite.buffer, nonFinite.byteOffset).setFloat32(nonFinite.byteLength - 4, Number.NaN, true);
    const attacks = [
      Uint8Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff),
      nonFinite,
      encodeMessage(
        {
          kind: 'keyframe',
          taskId: 'other-task',
          fingerprint: schema.fingerprint,
          seq: 2,
          base: 2,
          samples: 10,
          codec: fp32,
        },
        model,
      ),
    ];
    const attacking = (async () => {
      for (const bytes of attacks) await malicious.publish(topic, bytes);
    })();

    // Phase 1: three rounds of the honest five.
    await Promise.all([...honest.map((p) => p.run(3)), attacking]);
    for (const [i, log] of logs.entries()) {
      assert.equal(log.rounds.length, 3, `peer ${i} finished 3 rounds`);
      assert.ok(log.rejected.length >= 1, `peer ${i} rejected the malicious messages: ${JSON.stringify(log.rejected)}`);
      assert.ok(log.rejected.every((r) => r.from === malicious.id));
      for (const r of log.rounds) {
        const used = r.merge?.used.map((u) => u.peer) ?? [];
        assert.ok(!used.includes(malicious.id), 'a rejected sender never reaches a merge');
        assert.ok(r.candidates >= 1, `peer ${i} merged neighbours in round ${r.round}`);
      }
    }
    // Malicious bytes never produced a public copy, so its score went down everywhere it was seen.
    assert.ok(honest.some((p) => p.neighbours().includes(malicious.id)) === false);

    // Phase 2: a late joiner starts, node 4 is killed; the others keep going.
    const late = kit.make(gossips[HONEST], HONEST, { neighbours: 'all' });
    const lateLog = collect(late);
    const snapshots: string[] = [];
    late.addEventListener('snapshot:fetched', (e) => snapshots.push(e.detail.from));
    await late.start();
    const killed = honest[HONEST - 1];
    await killed.stop();
    await gossips[HONEST - 1].stop();
    const survivors = honest.slice(0, HONEST - 1);
    await Promise.all([...survivors.map((p) => p.run(6)), late.run(3)]);

    for (const [i, p] of survivors.entries()) {
      const rounds = logs[i]?.rounds ?? [];
      assert.equal(rounds.length, 6, `survivor ${i} was not stalled by the killed node`);
      const first = rounds[0]?.local?.overall ?? 1;
      const last = rounds.at(-1)?.merged?.overall ?? 0;
      assert.ok(last > first + 0.05, `peer ${i} accuracy rose: ${first.toFixed(3)} -> ${last.toFixed(3)}`);
      assert.ok(!p.neighbours().includes(killed.id), 'the killed node aged out of the candidate set');
    }
    t.diagnostic(
      `accuracy first->last: ${survivors.map((_, i) => `${logs[i]?.rounds[0]?.local?.overall.toFixed(3)}->${logs[i]?.rounds.at(-1)?.merged?.overall.toFixed(3)}`).join(' ')}; ` +
        `late joiner ${lateLog.rounds.map((r) => r.merged?.overall.toFixed(3)).join(',')}; snapshots from ${snapshots.length}; ` +
        `rejections ${logs.map((l) => l.rejected.length).join(',')}; closedBy ${logs[0]?.rounds.map((r) => r.closedBy).join(',')}`,
    );
    assert.ok(snapshots.length >= 1, 'the late joiner fetched at least one snapshot');
    assert.equal(lateLog.rounds.length, 3);
    const lateFinal = lateLog.rounds.at(-1)?.merged?.overall ?? 0;
    const honestFinal = Math.min(...survivors.map((p) => p.lastAccuracy?.overall ?? 0));
    assert.ok(lateFinal > honestFinal - 0.1, `late joiner caught up: ${lateFinal} vs ${honestFinal}`);
    await Promise.all([...survivors, late].map((p) => p.stop()));
  },
);
