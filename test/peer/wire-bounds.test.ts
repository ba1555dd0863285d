/**
 * Wire bounds through the Peer: a huge finite keyframe (the 3e38 attack of issue 14) is
 * rejected at the topic validator as 'out-of-range' and penalised; with the wire bounds
 * turned off (`wireBounds: false`) it reaches the public copies but the merge guard drops
 * it, so it never reaches the merged model.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_VALUE_BOUND, firstOutOfBound } from '../../src/model/bounds.ts';
import { Bus } from '../../src/net/inproc-bus.ts';
import type { Peer } from '../../src/peer/peer.ts';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import { encodeMessage } from '../../src/wire/message.ts';
import { updatesTopic } from '../../src/wire/topic.ts';
import { peerKit, TASK } from './fixtures.ts';

function hugeKeyframe(peer: Peer): Uint8Array {
  const model = peer.schema.layers.map((l) => ({
    name: l.name,
    shape: [...l.shape],
    values: new Float32Array(l.size).fill(3e38),
  }));
  return encodeMessage(
    {
      kind: 'keyframe',
      taskId: TASK,
      fingerprint: peer.schema.fingerprint,
      seq: 1,
      base: 1,
      samples: 10,
      codec: parseCodec('fp32'),
    },
    model,
  );
}

for (const wireBounds of [undefined, false] as const) {
  test(
    `a 3e38 keyframe never reaches a merge (wire bounds ${wireBounds === false ? 'off' : 'on'})`,
    {
      timeout: 120_000,
    },
    async () => {
      const kit = await peerKit(2, { strategy: 'mean', perPeer: 200 });
      const bus = new Bus({ topology: { kind: 'full' } });
      const gossips = [0, 1].map((i) => bus.join(`p${i}`));
      // Over the gossip topic, where 'evil' publishes (pushes are validated by the same code).
      const peers = gossips.map((g, i) => kit.make(g, i, { wireBounds, minFreshUpdates: 1, neighbours: 'all' }));
      const evil = bus.join('evil');
      const rejected: string[] = [];
      peers[0]?.addEventListener('update:rejected', (e) => rejected.push(`${e.detail.from}:${e.detail.reason}`));
      for (const p of peers) await p.start();
      evil.subscribe(updatesTopic(TASK), () => {});
      await evil.publish(updatesTopic(TASK), hugeKeyframe(peers[0]));
      await bus.flush();
      const summaries = await Promise.all(peers.map((p) => p.runRound()));
      const first = summaries[0];
      assert.ok(first);
      if (wireBounds === undefined) {
        assert.deepEqual(rejected, ['evil:out-of-range']);
        assert.ok((gossips[0]?.score('evil') ?? 0) < 0, 'the sender is penalised');
        assert.equal(peers[0]?.receivedModel('evil'), undefined, 'no public copy of the rejected sender');
      } else {
        assert.deepEqual(rejected, []);
        assert.ok(peers[0]?.receivedModel('evil') !== undefined, 'wire bound off: the copy was applied');
        const refused = first.merge?.rejected.filter((r) => r.peer === 'evil').map((r) => r.reason);
        assert.deepEqual(refused, ['out-of-range']);
      }
      assert.ok(!(first.merge?.used ?? []).some((u) => u.peer === 'evil'));
      for (const p of peers) {
        for (const l of p.trainer.getWeights()) assert.equal(firstOutOfBound(l.values, DEFAULT_VALUE_BOUND), -1);
      }
      for (const p of peers) await p.stop();
    },
  );
}
