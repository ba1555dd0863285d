/**
 * gossipsub-config.ts `internals()` reaches into @libp2p/gossipsub past its exported
 * interface: `getMeshPeers(topic)` (waitForMesh), `getScore(peer)` (Libp2pGossip.score)
 * and the live `score.params.topics` record (Libp2pGossip.subscribe adds each topic's
 * score parameters there at runtime). This test pins all three on real memory nodes, so
 * a gossipsub upgrade that renames, re-types or copies them fails here, loudly, instead
 * of silently turning off topic scoring.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import { internals, topicScoreParams } from '../../src/net/gossipsub-config.ts';
import { createMemoryLibp2p, type MeshflNode } from '../../src/net/memory-factory.ts';
import { eventually } from './harness.ts';

const nodes: MeshflNode[] = [];
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

/** A fast heartbeat: meshes form and scores refresh (they are cached for one heartbeat) sooner. */
const tuning = { overrides: { heartbeatInterval: 100 } };
const GUARD = 20_000;

test(
  'gossipsub internals used by internals(): getMeshPeers, getScore, live score.params.topics',
  { timeout: 60_000 },
  async () => {
    const a = await createMemoryLibp2p({ gossip: tuning });
    nodes.push(a);
    const b = await createMemoryLibp2p({ gossip: tuning });
    nodes.push(b);
    await b.dial(a.getMultiaddrs());
    const bid = b.peerId.toString();
    await eventually(() => a.getPeers().some((p) => p.toString() === bid), 'a sees b', GUARD);

    const ia = internals(a.services.pubsub);
    assert.equal(typeof ia.getMeshPeers, 'function', 'GossipSub.getMeshPeers');
    assert.equal(typeof ia.getScore, 'function', 'GossipSub.getScore');
    assert.equal(typeof ia.score?.params?.topics, 'object', 'GossipSub.score.params.topics');
    // The params object is the one gossipsubOptions() built, not a copy.
    assert.equal(ia.score.params.appSpecificWeight, 10);
    assert.equal(typeof ia.score.params.appSpecificScore, 'function');

    // getMeshPeers: peer id strings of the topic mesh; [] for a topic we are not in.
    const meshTopic = 'pin/mesh';
    a.services.pubsub.subscribe(meshTopic);
    b.services.pubsub.subscribe(meshTopic);
    await eventually(() => ia.getMeshPeers(meshTopic).includes(bid), 'b in a mesh of the topic', GUARD);
    assert.deepEqual(
      ia.getMeshPeers(meshTopic).map((p) => typeof p),
      ['string'],
    );
    assert.deepEqual(ia.getMeshPeers('pin/not-subscribed'), []);

    // score.params.topics is read live: a topic added there at runtime is scored, so an
    // invalid message from b on it costs b (P4, -10 per invalid message squared).
    const scored = 'pin/scored';
    ia.score.params.topics[scored] = topicScoreParams();
    let rejected = 0;
    a.services.pubsub.topicValidators.set(scored, () => {
      rejected++;
      return TopicValidatorResult.Reject;
    });
    a.services.pubsub.subscribe(scored);
    b.services.pubsub.subscribe(scored);
    await eventually(
      () => b.services.pubsub.getSubscribers(scored).some((p) => p.equals(a.peerId)),
      'b knows a subscribed',
      GUARD,
    );
    await b.services.pubsub.publish(scored, new TextEncoder().encode('invalid'));
    await eventually(() => rejected === 1, 'a validated the message', GUARD);
    await eventually(
      () => ia.getScore(bid) < -5,
      `b's score to drop for an invalid message (now ${ia.getScore(bid)})`,
      GUARD,
    );

    // getScore includes the app-specific score, which our reputation feeds.
    const before = ia.getScore(bid);
    a.services.reputation.penalize(bid);
    await eventually(() => ia.getScore(bid) <= before - 9, `a reputation penalty to cost ~10 (was ${before})`, GUARD);
  },
);
