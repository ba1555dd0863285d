/**
 * A peer that ends its run tells its followers (`leave`, docs/PROTOCOL.md "Leave"), and an
 * author whose push to a follower failed sends that follower its snapshot next (a
 * keyframe) instead of dropping it. On real libp2p nodes (memory transport).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { FetchError } from '../../src/net/errors.ts';
import { createLibp2pGossip, type Libp2pGossip } from '../../src/net/libp2p-gossip.ts';
import { createMemoryLibp2p } from '../../src/net/memory-factory.ts';
import type { RoundSummary } from '../../src/peer/events.ts';
import { MAX_MISSED_PUSHES, Neighbourhood } from '../../src/peer/neighbourhood.ts';
import { PUSH_PROTOCOL, SAMPLE_PROTOCOL } from '../../src/wire/constants.ts';
import { decodeSampleMessage, encodeSampleMessage } from '../../src/wire/sampling.ts';
import type { TaskSchema } from '../../src/wire/schema.ts';
import { tinyBackend, tinyPeer, tinySchema } from './tiny.ts';

before(tinyBackend);

async function nodes(n: number): Promise<Libp2pGossip[]> {
  const out: Libp2pGossip[] = [];
  for (let i = 0; i < n; i++) out.push(await createLibp2pGossip(await createMemoryLibp2p()));
  for (let i = 1; i < n; i++) await out[0]?.node.dial((out[i] as Libp2pGossip).node.getMultiaddrs());
  return out;
}

function leaveBytes(schema: TaskSchema, lastSeq: number): Uint8Array {
  return encodeSampleMessage({
    kind: 'leave',
    taskId: schema.taskId,
    fingerprint: schema.fingerprint,
    entries: [],
    lastSeq,
  });
}

/** A Neighbourhood of D = 1 on `gossip` that records what it is told. */
function hood(gossip: Libp2pGossip, resync?: () => Uint8Array) {
  const leaves: Array<[string, number]> = [];
  const refused: string[] = [];
  const n = new Neighbourhood({
    gossip,
    schema: tinySchema(),
    neighbours: 1,
    seed: 1,
    maxUpdateBytes: 1 << 16,
    onUpdate: () => undefined,
    onSnapshot: () => {},
    onDropped: () => {},
    onLeave: (peer, lastSeq) => leaves.push([peer, lastSeq]),
    snapshotFor: () => undefined,
    ...(resync === undefined ? {} : { resync }),
    onRefused: (_from, reason) => refused.push(reason),
    onError: (err) => {
      throw err;
    },
    onBytes: () => {},
  });
  return { n, leaves, refused };
}

test(
  'on real libp2p nodes: a peer that ends its run tells its followers, whose next round closes without waiting for it',
  { timeout: 120_000 },
  async () => {
    const gossips = await nodes(2);
    try {
      const [ga, gb] = gossips as [Libp2pGossip, Libp2pGossip];
      // The deadline is tinyPeer's NEVER_MS: a round that reached it would close on 'deadline'.
      const a = tinyPeer(ga, { seed: 1, neighbours: 1, gossipSteps: 1 });
      const b = tinyPeer(gb, { seed: 2, neighbours: 1, gossipSteps: 1 });
      const rounds: RoundSummary[] = [];
      b.addEventListener('round:end', (e) => rounds.push(e.detail));
      const errors: string[] = [];
      for (const p of [a, b]) p.addEventListener('error', (e) => errors.push(e.detail.message));
      await a.start();
      await b.start();
      // Round 0 together; then A's run is over (one round) and B runs another.
      await Promise.all([a.run(1), b.runRound()]);
      assert.deepEqual(b.following(), [a.id]);
      const last = await b.runRound();
      assert.equal(last.closedBy, 'enough-updates', 'closed on the leave, not on the deadline');
      assert.equal(last.candidates, 1, "A's last copy is still merged");
      assert.equal(b.heard().find((h) => h.peer === a.id)?.seq, a.seq, "B holds A's last update");
      assert.deepEqual(
        rounds.map((r) => r.closedBy),
        ['enough-updates', 'enough-updates'],
      );
      assert.deepEqual(errors, []);
      await a.stop();
      await b.stop();
    } finally {
      await Promise.allSettled(gossips.map((g) => g.stop()));
    }
  },
);

test(
  'on real libp2p nodes: a leave is taken only from a followed peer, about itself; a later follower is told at once',
  { timeout: 120_000 },
  async () => {
    const gossips = await nodes(3);
    try {
      const [own, other, author] = gossips as [Libp2pGossip, Libp2pGossip, Libp2pGossip];
      const schema = tinySchema();
      // Both answer follows with nothing (they have published nothing), exchanges with nobody.
      const answer = encodeSampleMessage({
        kind: 'answer',
        taskId: schema.taskId,
        fingerprint: schema.fingerprint,
        entries: [],
      });
      for (const g of [author, other]) {
        await g.handle(SAMPLE_PROTOCOL, async (_from, request) =>
          decodeSampleMessage(request).kind === 'exchange' ? answer : new Uint8Array(0),
        );
      }
      const { n, leaves, refused } = hood(own);
      await n.start();
      n.tick(0);
      const followed = n.neighbours();
      await n.settled();
      assert.deepEqual(n.neighbours(), followed);
      assert.deepEqual(refused, []);
      assert.equal(followed.length, 1);
      const [followee, stranger] = followed[0] === author.id ? [author, other] : [other, author];
      // From a peer it does not follow: answered, and nothing changes.
      assert.equal((await stranger.fetch(own.id, SAMPLE_PROTOCOL, leaveBytes(schema, 3))).byteLength, 0);
      assert.deepEqual(leaves, []);
      // A leave that names another peer does not decode: refused, nothing taken.
      const named = encodeSampleMessage({
        kind: 'exchange',
        taskId: schema.taskId,
        fingerprint: schema.fingerprint,
        entries: [{ id: stranger.id, addresses: [] }],
      });
      const forged = Uint8Array.of(...named.subarray(0, 5), 5, ...named.subarray(6), 3, 0, 0, 0);
      await assert.rejects(
        followee.fetch(own.id, SAMPLE_PROTOCOL, forged),
        (err: unknown) => err instanceof FetchError && err.code === 'remote-error',
      );
      assert.deepEqual(refused, ['undecodable']);
      assert.deepEqual(leaves, []);
      // From its followee: taken, about the sender only.
      await followee.fetch(own.id, SAMPLE_PROTOCOL, leaveBytes(schema, 3));
      assert.deepEqual(leaves, [[followee.id, 3]]);

      // The other side: after leave(), followers are told, and so is one that follows later.
      const told: Array<[string, number | undefined]> = [];
      const listen = async (g: Libp2pGossip): Promise<void> => {
        await g.handle(SAMPLE_PROTOCOL, async (_from, request) => {
          const m = decodeSampleMessage(request);
          if (m.kind === 'leave') told.push([g.id, m.lastSeq]);
          return new Uint8Array(0);
        });
      };
      await listen(stranger);
      await listen(followee);
      const follow = encodeSampleMessage({
        kind: 'follow',
        taskId: schema.taskId,
        fingerprint: schema.fingerprint,
        entries: [],
      });
      await stranger.fetch(own.id, SAMPLE_PROTOCOL, follow);
      await n.leave(9);
      assert.deepEqual(told, [[stranger.id, 9]]);
      await followee.fetch(own.id, SAMPLE_PROTOCOL, follow);
      await n.settled();
      assert.deepEqual(told, [
        [stranger.id, 9],
        [followee.id, 9],
      ]);
      await n.stop();
    } finally {
      await Promise.allSettled(gossips.map((g) => g.stop()));
    }
  },
);

test(
  'on real libp2p nodes: a follower whose push failed gets the snapshot next, and is dropped after two failures in a row',
  { timeout: 120_000 },
  async () => {
    const gossips = await nodes(2);
    try {
      const [own, follower] = gossips as [Libp2pGossip, Libp2pGossip];
      const schema = tinySchema();
      const snapshot = Uint8Array.of(9, 9, 9);
      const { n } = hood(own, () => snapshot);
      await n.start();
      const follow = encodeSampleMessage({
        kind: 'follow',
        taskId: schema.taskId,
        fingerprint: schema.fingerprint,
        entries: [],
      });
      await follower.fetch(own.id, SAMPLE_PROTOCOL, follow);
      assert.deepEqual(n.followers(), [follower.id]);
      // The follower's answers: too large (a failure that is not a refusal) for the pushes listed.
      const received: number[][] = [];
      let failing = new Set<number>();
      await follower.handle(PUSH_PROTOCOL, async (_from, request) => {
        received.push([...request]);
        return failing.has(received.length) ? new Uint8Array(4096) : new Uint8Array(0);
      });
      const settle = async (count: number): Promise<void> => {
        await n.settled();
        assert.equal(received.length, count);
      };
      failing = new Set([1]);
      n.push(Uint8Array.of(1));
      await settle(1);
      n.push(Uint8Array.of(2));
      await settle(2);
      n.push(Uint8Array.of(3));
      await settle(3);
      assert.deepEqual(received, [[1], [9, 9, 9], [3]], 'the snapshot after the failed push, then deltas');
      assert.deepEqual(n.followers(), [follower.id]);
      failing = new Set([4, 5]);
      n.push(Uint8Array.of(4));
      await settle(4);
      assert.deepEqual(n.followers(), [follower.id], 'one failure keeps it');
      n.push(Uint8Array.of(5));
      await settle(5);
      assert.equal(MAX_MISSED_PUSHES, 2);
      assert.deepEqual(n.followers(), [], 'dropped after two in a row');
      assert.deepEqual(received.at(-1), [9, 9, 9]);
      await n.stop();
    } finally {
      await Promise.allSettled(gossips.map((g) => g.stop()));
    }
  },
);
