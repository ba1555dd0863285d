/**
 * Neighbour-bounded dissemination (src/peer/neighbourhood.ts) with real Peers: on the
 * in-process bus, every merge sees at most D candidates, nothing travels on the gossip
 * topic, each peer follows at most D peers and updates reach only followers; on real
 * libp2p nodes (memory transport), the sampling and push protocols round-trip, refuse
 * what is malformed, and keep their limits.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { FetchError } from '../../src/net/errors.ts';
import type { Gossip } from '../../src/net/gossip.ts';
import { Bus } from '../../src/net/inproc-bus.ts';
import { createLibp2pGossip, type Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { createMemoryLibp2p } from '../../src/net/memory-factory.ts';
import { connectTopology } from '../../src/net/topology.ts';
import type { RejectedUpdate, RoundSummary } from '../../src/peer/events.ts';
import type { Peer } from '../../src/peer/peer.ts';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import { PUSH_PROTOCOL, SAMPLE_PROTOCOL, SNAPSHOT_PROTOCOL } from '../../src/wire/constants.ts';
import { decodeHeader, maxUpdateSize } from '../../src/wire/message.ts';
import { PublicCopies, PublicCopyEncoder } from '../../src/wire/public-copies.ts';
import { decodeSampleMessage, encodeSampleMessage, type SampleEntry } from '../../src/wire/sampling.ts';
import { SharedCopies } from '../../src/wire/shared-copies.ts';
import { HANG_GUARD, modelFor, tinyBackend, tinyPeer } from './tiny.ts';

before(tinyBackend);

test('on the bus, 12 peers with D = 3: at most 3 candidates per merge, updates only by push to followers', async () => {
  const bus = new Bus();
  const D = 3;
  const shared = new SharedCopies();
  const peers: Peer[] = [];
  const rounds = new Map<string, RoundSummary[]>();
  /** Rounds of each peer's merge reports (merge:report, one per merge). */
  const reports = new Map<string, number[]>();
  /** Followees of each peer at the end of each round. */
  const followed = new Map<string, string[][]>();
  let replaced = 0;
  for (let i = 0; i < 12; i++) {
    const p = tinyPeer(bus.join(`p${i}`), {
      seed: i + 1,
      neighbours: D,
      sharedCopies: shared,
      minFreshUpdates: 2,
      deadline: { initialMs: 300, minMs: 50, maxMs: 1000 },
    });
    p.addEventListener('round:end', (e) => {
      const list = rounds.get(p.id) ?? [];
      list.push(e.detail);
      rounds.set(p.id, list);
      followed.set(p.id, [...(followed.get(p.id) ?? []), p.following() ?? []]);
    });
    p.addEventListener('merge:report', (e) => {
      assert.ok(e.detail.report.used.length + e.detail.report.rejected.length <= D);
      reports.set(p.id, [...(reports.get(p.id) ?? []), e.detail.round]);
    });
    p.addEventListener('error', (e) => assert.fail(`${p.id}: ${e.detail.message}`));
    peers.push(p);
  }
  for (const p of peers) await p.start();
  await Promise.all(peers.map((p) => p.run(6)));
  // Every merge reports, one per gossip step (two per round by default with D).
  for (const p of peers) assert.deepEqual(reports.get(p.id), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5], p.id);
  for (const p of peers) {
    const list = rounds.get(p.id) ?? [];
    assert.equal(list.length, 6);
    for (const r of list) {
      assert.ok(r.candidates <= D, `${p.id} round ${r.round}: ${r.candidates} candidates`);
      // The diagnostics the neighbours bench traces: one lag per candidate, fresh ones among them.
      assert.equal(r.candidateLags?.length, r.candidates);
      assert.ok((r.freshCandidates ?? -1) >= 0 && (r.freshCandidates ?? 0) <= r.candidates);
      assert.ok((r.followers ?? -1) >= 0 && (r.followers ?? 0) <= 3 * D, `${p.id}: ${r.followers} followers`);
    }
    assert.ok(
      list.slice(2).some((r) => r.candidates >= 1),
      `${p.id} merged neighbours: ${list.map((r) => r.candidates)}`,
    );
    assert.ok((p.following() ?? []).length <= D);
    assert.ok(p.neighbours().length <= D);
    // The follow pace (follow-plan.ts): a followee is replaced at most once every 2 rounds,
    // in even rounds (no follow fails here, so every drop is a replacement).
    const views = followed.get(p.id) ?? [];
    for (let r = 1; r < views.length; r++) {
      const dropped = (views[r - 1] ?? []).filter((x) => !(views[r] ?? []).includes(x));
      assert.ok(dropped.length <= (r % 2 === 0 ? 1 : 0), `${p.id} round ${r} dropped ${dropped}`);
      replaced += dropped.length;
    }
    // Neighbour mode's default: two gossip steps, so two publications per round.
    assert.equal(p.seq, 2 * 6, `${p.id} published once per gossip step`);
    const t = bus.traffic(p.id);
    assert.equal(t?.bytesSent, 0, 'nothing on the gossip topic');
  }
  assert.ok(replaced >= 1, 'followees were replaced (the neighbours still change)');
  // Receivers of one sender on the same chain hold its public copy once (shared read-only).
  let pairs = 0;
  for (const sender of peers) {
    const held = peers
      .map((p) => p.receivedModel(sender.id))
      .filter(
        (w) => w !== undefined && w === peers.map((q) => q.receivedModel(sender.id)).find((x) => x !== undefined),
      );
    if (held.length >= 2) pairs++;
  }
  assert.ok(
    pairs >= 1 && shared.stats.hits > 0,
    `copies were shared: ${JSON.stringify(shared.stats)}, ${pairs} senders`,
  );
  await Promise.all(peers.map((p) => p.stop()));
  await bus.stop();
});

test(
  'the sampling and push protocols on real libp2p nodes: round trip, validation and limits',
  { timeout: 120_000 },
  async () => {
    const gossips: Libp2pGossip[] = [];
    try {
      for (let i = 0; i < 5; i++) gossips.push(await createLibp2pGossip(await createMemoryLibp2p()));
      // a ring: each peer starts knowing two others, and learns the rest (with their addresses) by sampling
      await connectTopology(
        gossips.slice(0, 4).map((g) => g.node),
        { kind: 'random-regular', degree: 2, seed: 1 },
      );
      const raw = gossips[4];
      const peers = gossips.slice(0, 4).map((g, i) =>
        tinyPeer(g, {
          seed: i + 1,
          neighbours: 2,
          minFreshUpdates: 1,
          deadline: { initialMs: 2000, minMs: 50, maxMs: 4000 },
        }),
      );
      const rejected: RejectedUpdate[] = [];
      for (const p of peers) p.addEventListener('update:rejected', (e) => rejected.push(e.detail));
      const summaries: RoundSummary[] = [];
      for (const p of peers) p.addEventListener('round:end', (e) => summaries.push(e.detail));
      for (const p of peers) await p.start();
      await Promise.all(peers.map((p) => p.run(4)));
      assert.equal(summaries.length, 16);
      assert.ok(summaries.every((s) => s.candidates <= 2));
      assert.ok(
        summaries.filter((s) => s.round >= 1).some((s) => s.candidates >= 1),
        'updates were pushed and merged',
      );
      for (const p of peers) assert.ok((p.following() ?? []).length <= 2);

      const target = peers[0];
      const schema = target.schema;
      await raw.node.dial(gossips[0]?.node.getMultiaddrs() ?? []);
      const sample = (kind: 'exchange' | 'follow', entries: SampleEntry[] = []) =>
        raw.fetch(
          target.id,
          SAMPLE_PROTOCOL,
          encodeSampleMessage({ kind, taskId: schema.taskId, fingerprint: schema.fingerprint, entries }),
        );

      // An exchange is answered with the peer itself, reachable at its addresses.
      const answer = decodeSampleMessage(await sample('exchange', [{ id: raw.id, addresses: await raw.addresses() }]));
      assert.equal(answer.kind, 'answer');
      const self = answer.entries.find((e) => e.id === target.id);
      assert.ok(
        self && self.addresses.length > 0,
        `the answer names the peer with addresses: ${JSON.stringify(answer.entries)}`,
      );
      await assert.rejects(sample('exchange'), (err: unknown) => err instanceof FetchError && /busy/.test(err.message));

      // Garbage and another task's messages are refused and reported at stage "sample".
      await assert.rejects(raw.fetch(target.id, SAMPLE_PROTOCOL, Uint8Array.of(1, 2, 3)), FetchError);
      await assert.rejects(
        raw.fetch(
          target.id,
          SAMPLE_PROTOCOL,
          encodeSampleMessage({ kind: 'follow', taskId: 'other', fingerprint: schema.fingerprint, entries: [] }),
        ),
        FetchError,
      );
      const sampleRejections = rejected.filter((r) => r.stage === 'sample' && r.from === raw.id).map((r) => r.reason);
      assert.deepEqual(sampleRejections, ['undecodable', 'wrong-task']);

      // A push from a peer it does not follow is refused; so is one larger than the task's largest update.
      const encoder = new PublicCopyEncoder({ schema, codec: parseCodec('fp32') });
      const update = encoder.encodeUpdate(modelFor(schema, 0), 10).bytes;
      await assert.rejects(
        raw.fetch(target.id, PUSH_PROTOCOL, update),
        (err: unknown) => err instanceof FetchError && /not-following/.test(err.message),
      );
      await assert.rejects(
        raw.fetch(target.id, PUSH_PROTOCOL, new Uint8Array(maxUpdateSize(schema) + 1)),
        (err: unknown) => err instanceof FetchError && err.code === 'too-large',
      );

      // A follow is answered with the peer's snapshot, and its next update is pushed to the follower.
      const pushed: Uint8Array[] = [];
      await raw.handle(PUSH_PROTOCOL, async (from, request) => {
        if (from === target.id) pushed.push(request);
        return new Uint8Array(0);
      });
      const snapshot = await sample('follow');
      const keyframe = decodeHeader(snapshot);
      assert.equal(keyframe.kind, 'keyframe');
      assert.equal(keyframe.seq, target.seq);
      assert.ok((target.followers() ?? []).includes(raw.id));
      await Promise.all(peers.map((p) => p.runRound()));
      // Pushes run in the background of the round: wait for it (HANG_GUARD bounds the wait).
      const waitUntil = Date.now() + HANG_GUARD;
      while (pushed.length < 2 && Date.now() < waitUntil) await new Promise((resolve) => setTimeout(resolve, 20));
      // Two gossip steps (neighbour mode's default): the round's trained and merged models.
      assert.equal(pushed.length, 2, 'the follower received the next two updates');
      const copies = new PublicCopies({ schema });
      assert.equal(copies.receive(target.id, snapshot).kind, 'applied');
      assert.equal(copies.receive(target.id, pushed[0]).kind, 'applied', 'the delta applies on the snapshot');
      assert.equal(copies.receive(target.id, pushed[1]).kind, 'applied', 'and the next one on that');
      await Promise.all(peers.map((p) => p.stop()));
    } finally {
      await Promise.allSettled(gossips.map((g) => g.stop()));
    }
  },
);

test('a peer has at most 3 x D followers; further follows are refused', async () => {
  const bus = new Bus();
  const peer = tinyPeer(bus.join('p'), { neighbours: 1 });
  await peer.start();
  const schema = peer.schema;
  const follow = encodeSampleMessage({
    kind: 'follow',
    taskId: schema.taskId,
    fingerprint: schema.fingerprint,
    entries: [],
  });
  const others = Array.from({ length: 4 }, (_, i) => bus.join(`f${i}`));
  for (const g of others.slice(0, 3)) assert.equal((await g.fetch('p', SAMPLE_PROTOCOL, follow)).byteLength, 0);
  await assert.rejects((others[3] as Gossip).fetch('p', SAMPLE_PROTOCOL, follow), /followers-full/);
  assert.equal(peer.followers()?.length, 3);
  await peer.stop();
  await bus.stop();
});

test(
  'on real libp2p nodes: at most 4 pushes per followed peer per round (one gossip step), at most 3 x D followers',
  { timeout: 120_000 },
  async () => {
    const gossips: Libp2pGossip[] = [];
    try {
      for (let i = 0; i < 6; i++) gossips.push(await createLibp2pGossip(await createMemoryLibp2p()));
      const [own, author, ...others] = gossips as [Libp2pGossip, Libp2pGossip, ...Libp2pGossip[]];
      // The peer (D = 1, so at most 3 followers) knows only `author`, so it follows it.
      await own.node.dial(author.node.getMultiaddrs());
      // One gossip step: the cap is PUSHES_PER_ROUND x gossipSteps (neighbour mode's default is 2).
      const peer = tinyPeer(own, { neighbours: 1, minFreshUpdates: 1, gossipSteps: 1 });
      peer.addEventListener('error', (e) => assert.fail(e.detail.message));
      const schema = peer.schema;
      let followed: () => void = () => {};
      const follow = new Promise<void>((resolve) => {
        followed = resolve;
      });
      await author.handle(SAMPLE_PROTOCOL, async (_from, request) => {
        const m = decodeSampleMessage(request);
        if (m.kind === 'follow') followed();
        if (m.kind !== 'exchange') return new Uint8Array(0);
        return encodeSampleMessage({
          kind: 'answer',
          taskId: schema.taskId,
          fingerprint: schema.fingerprint,
          entries: [{ id: author.id, addresses: await author.addresses() }],
        });
      });
      await peer.start();
      const round = peer.runRound();
      await follow;
      assert.deepEqual(peer.following(), [author.id]);
      // Pushes of the author's next five updates within one round of the peer: four are taken.
      const encoder = new PublicCopyEncoder({ schema, codec: parseCodec('fp32') });
      const outcomes: string[] = [];
      for (let k = 0; k < 5; k++) {
        const bytes = encoder.encodeUpdate(modelFor(schema, k), 10).bytes;
        try {
          await author.fetch(peer.id, PUSH_PROTOCOL, bytes);
          outcomes.push('taken');
        } catch (err) {
          assert.ok(err instanceof FetchError, String(err));
          outcomes.push(/rate-limited/.test(err.message) ? 'rate-limited' : err.message);
        }
      }
      assert.deepEqual(outcomes, ['taken', 'taken', 'taken', 'taken', 'rate-limited']);
      const summary = await round;
      assert.equal(summary.closedBy, 'enough-updates');
      assert.equal(summary.candidates, 1, 'the pushed update was merged');
      assert.equal(peer.heard().find((h) => h.peer === author.id)?.seq, 4, 'the fifth update was not applied');

      // Followers: 3 x D = 3 are taken, the fourth is refused.
      const followMessage = encodeSampleMessage({
        kind: 'follow',
        taskId: schema.taskId,
        fingerprint: schema.fingerprint,
        entries: [],
      });
      const answers: string[] = [];
      for (const g of others) {
        await g.node.dial(own.node.getMultiaddrs());
        try {
          const snapshot = await g.fetch(peer.id, SAMPLE_PROTOCOL, followMessage);
          answers.push(decodeHeader(snapshot).kind);
        } catch (err) {
          assert.ok(err instanceof FetchError, String(err));
          answers.push(/followers-full/.test(err.message) ? 'followers-full' : err.message);
        }
      }
      assert.deepEqual(answers, ['keyframe', 'keyframe', 'keyframe', 'followers-full']);
      assert.deepEqual(
        peer.followers()?.sort(),
        others
          .slice(0, 3)
          .map((g) => g.id)
          .sort(),
      );
      await peer.stop();
    } finally {
      await Promise.allSettled(gossips.map((g) => g.stop()));
    }
  },
);

test(
  'on real libp2p nodes: a push that arrives before the snapshot answering the follow is held and applied on it, no snapshot fetched',
  { timeout: 120_000 },
  async () => {
    const gossips: Libp2pGossip[] = [];
    try {
      for (let i = 0; i < 2; i++) gossips.push(await createLibp2pGossip(await createMemoryLibp2p()));
      const [own, author] = gossips as [Libp2pGossip, Libp2pGossip];
      await own.node.dial(author.node.getMultiaddrs());
      const peer = tinyPeer(own, { neighbours: 1, minFreshUpdates: 1, gossipSteps: 1 });
      const errors: string[] = [];
      peer.addEventListener('error', (e) => errors.push(e.detail.message));
      const rejected: RejectedUpdate[] = [];
      peer.addEventListener('update:rejected', (e) => rejected.push(e.detail));
      const schema = peer.schema;
      const encoder = new PublicCopyEncoder({ schema, codec: parseCodec('fp32') });
      const keyframe = encoder.encodeUpdate(modelFor(schema, 0), 10);
      assert.equal(keyframe.kind, 'keyframe');
      const deltas = [1, 2].map((k) => encoder.encodeUpdate(modelFor(schema, k), 10));
      assert.deepEqual(
        deltas.map((d) => [d.kind, d.base]),
        [
          ['delta', 1],
          ['delta', 2],
        ],
      );
      // The author answers snapshot requests (a gap fetch would come here) with its latest copy.
      let snapshotRequests = 0;
      await author.handle(SNAPSHOT_PROTOCOL, async () => {
        snapshotRequests++;
        return encoder.snapshot() ?? new Uint8Array(0);
      });
      // Its answer to the follow is its snapshot at seq 1; before answering, it pushes its next
      // two updates (seq 2 on 1, seq 3 on 2), in reverse order: both reach the peer first.
      const pushes: string[] = [];
      await author.handle(SAMPLE_PROTOCOL, async (_from, request) => {
        const m = decodeSampleMessage(request);
        if (m.kind === 'follow') {
          for (const d of [...deltas].reverse()) {
            await author.fetch(peer.id, PUSH_PROTOCOL, d.bytes);
            pushes.push(`seq ${d.seq} taken`);
          }
          return keyframe.bytes;
        }
        if (m.kind !== 'exchange') return new Uint8Array(0);
        return encodeSampleMessage({
          kind: 'answer',
          taskId: schema.taskId,
          fingerprint: schema.fingerprint,
          entries: [{ id: author.id, addresses: await author.addresses() }],
        });
      });
      await peer.start();
      const summary = await peer.runRound();
      assert.deepEqual(pushes, ['seq 3 taken', 'seq 2 taken']);
      assert.equal(summary.candidates, 1);
      assert.equal(peer.heard().find((h) => h.peer === author.id)?.seq, 3, 'both pushes applied on the snapshot');
      assert.deepEqual(peer.receivedModel(author.id), deltas[1]?.publicCopy, "the author's public copy, bit for bit");
      assert.equal(snapshotRequests, 0, 'no snapshot fetched for the early pushes');
      assert.deepEqual(rejected, []);
      assert.deepEqual(errors, []);
      await peer.stop();
    } finally {
      await Promise.allSettled(gossips.map((g) => g.stop()));
    }
  },
);

test('an exchange answer carries the addresses of the peers a peer knows by connection, and they dial', async () => {
  const gossips: Libp2pGossip[] = [];
  try {
    for (let i = 0; i < 3; i++) gossips.push(await createLibp2pGossip(await createMemoryLibp2p()));
    const [b, c, raw] = gossips as [Libp2pGossip, Libp2pGossip, Libp2pGossip];
    await b.node.dial(c.node.getMultiaddrs());
    const peerB = tinyPeer(b, { neighbours: 2 });
    const peerC = tinyPeer(c, { neighbours: 2 });
    await peerB.start();
    await peerC.start();
    await raw.node.dial(b.node.getMultiaddrs());
    const schema = peerB.schema;
    const answer = decodeSampleMessage(
      await raw.fetch(
        peerB.id,
        SAMPLE_PROTOCOL,
        encodeSampleMessage({
          kind: 'exchange',
          taskId: schema.taskId,
          fingerprint: schema.fingerprint,
          entries: [{ id: raw.id, addresses: await raw.addresses() }],
        }),
      ),
    );
    // C is known to B only as a connected peer (its overlay neighbour), never from an exchange.
    const entry = answer.entries.find((e) => e.id === peerC.id);
    assert.ok(entry !== undefined && entry.addresses.length > 0, `C with addresses: ${JSON.stringify(answer.entries)}`);
    assert.equal(raw.peers().includes(peerC.id), false);
    // What a follower does with a sampled entry: the addresses reach the transport, which dials.
    await raw.learnAddresses(peerC.id, entry.addresses);
    const follow = encodeSampleMessage({
      kind: 'follow',
      taskId: schema.taskId,
      fingerprint: schema.fingerprint,
      entries: [],
    });
    assert.equal(
      (await raw.fetch(peerC.id, SAMPLE_PROTOCOL, follow)).byteLength,
      0,
      'followed (nothing published yet)',
    );
    assert.deepEqual(peerC.followers(), [raw.id]);
    await peerB.stop();
    await peerC.stop();
  } finally {
    await Promise.allSettled(gossips.map((g) => g.stop()));
  }
});
