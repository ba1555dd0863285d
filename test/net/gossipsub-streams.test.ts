/**
 * OutboundStreamKeeper on real memory nodes: when gossipsub's outbound stream to a
 * connected peer is gone (gossipsub gave up on it, as it does after a failed newStream or
 * a closed stream), the keeper reopens it and messages flow again; a healthy stream is
 * left alone; on a gossipsub without the internals it refuses to start.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { GossipSub } from '@libp2p/gossipsub';
import { OutboundStreamKeeper } from '../../src/net/gossipsub-streams.ts';
import { createMemoryLibp2p, type MeshflNode } from '../../src/net/memory-factory.ts';
import { eventually } from './harness.ts';

const nodes: MeshflNode[] = [];
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});
const GUARD = 20_000;
const TOPIC = 'keeper/topic';

interface Streams {
  streamsOutbound: Map<string, { close(): Promise<void> }>;
}

test('a lost gossipsub outbound stream is reopened and messages flow again', { timeout: 60_000 }, async () => {
  const a = await createMemoryLibp2p({ gossip: { overrides: { heartbeatInterval: 100 } } });
  const b = await createMemoryLibp2p({ gossip: { overrides: { heartbeatInterval: 100 } } });
  nodes.push(a, b);
  a.services.pubsub.subscribe(TOPIC);
  b.services.pubsub.subscribe(TOPIC);
  await b.dial(a.getMultiaddrs());
  const aid = a.peerId.toString();
  const bStreams = b.services.pubsub as unknown as Streams;
  await eventually(() => bStreams.streamsOutbound.has(aid), 'b opened its stream to a', GUARD);

  const repaired: string[] = [];
  const keeper = new OutboundStreamKeeper(b, b.services.pubsub, {
    intervalMs: 60_000,
    onRepair: (p) => repaired.push(p),
  });
  assert.equal(keeper.start(), true, 'the internals the keeper needs exist in this gossipsub');
  nodes.push({ stop: () => keeper.stop() } as unknown as MeshflNode);
  await keeper.check();
  await keeper.check();
  assert.deepEqual(repaired, [], 'a healthy stream is left alone');

  // gossipsub loses the stream and, by itself, never opens another one.
  // (the state a failed newStream leaves: no entry for a connected peer)
  const lost = bStreams.streamsOutbound.get(aid);
  bStreams.streamsOutbound.delete(aid);
  await lost?.close().catch(() => {});
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(bStreams.streamsOutbound.has(aid), false, 'gossipsub did not reopen it');

  await keeper.check(); // first sighting: a stream may be on its way
  assert.deepEqual(repaired, []);
  await keeper.check();
  assert.deepEqual(repaired, [aid]);
  await eventually(() => bStreams.streamsOutbound.has(aid), 'the keeper reopened the stream', GUARD);

  // b's messages reach a again.
  const got: string[] = [];
  a.services.pubsub.addEventListener('message', (e) => got.push(new TextDecoder().decode(e.detail.data)));
  const deadline = Date.now() + GUARD;
  while (!got.includes('after')) {
    if (Date.now() > deadline) assert.fail('hang guard: no message from b after the repair');
    await b.services.pubsub.publish(TOPIC, new TextEncoder().encode('after')).catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
  }
});

test('the keeper refuses to start on a gossipsub without the internals it needs', () => {
  const fake = { isStarted: () => true } as unknown as GossipSub;
  const keeper = new OutboundStreamKeeper({} as never, fake);
  assert.equal(keeper.start(), false);
});
