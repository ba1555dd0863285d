/**
 * Shunning (src/peer/shunning.ts) as pure bookkeeping on merge reports, and the sampler's
 * shun (src/net/peer-sampling.ts): a shunned id leaves the view and is never taken again;
 * and real Peers on the bus that shun a sender their merge keeps finding harmful.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createStrategy } from '../../src/merge/registry.ts';
import type { MergeReport, RejectReason } from '../../src/merge/report.ts';
import type { Strategy } from '../../src/merge/types.ts';
import { Bus } from '../../src/net/inproc-bus.ts';
import { PeerSampler } from '../../src/net/peer-sampling.ts';
import type { RoundSummary } from '../../src/peer/events.ts';
import type { Peer } from '../../src/peer/peer.ts';
import { Shunning } from '../../src/peer/shunning.ts';
import { tinyBackend, tinyPeer } from './tiny.ts';

before(tinyBackend);

function report(used: string[], rejected: Array<[string, RejectReason]>): MergeReport {
  return {
    strategy: 'test',
    ownShare: 0.5,
    used: used.map((peer) => ({ peer, seq: 1, share: 0.1 })),
    rejected: rejected.map(([peer, reason]) => ({ peer, seq: 1, reason })),
  };
}

test('a sender is shunned once `after` of its last 2 x after verdicts are harm, not before', () => {
  const s = new Shunning({ after: 2 });
  assert.deepEqual(s.observe(report(['h'], [['a', 'harmful']]), 0), []);
  assert.equal(s.has('a'), false, 'one harmful verdict is what an honest specialist gets now and then');
  assert.deepEqual(s.observe(report(['a', 'h'], []), 0), []);
  assert.deepEqual(s.observe(report(['h'], [['a', 'too-far']]), 0), ['a'], '2 of the last 4');
  assert.ok(s.has('a'));
  assert.deepEqual(s.observe(report(['h'], [['a', 'harmful']]), 0), [], 'shunned once, reported once');
  assert.equal(s.size, 1);
  assert.equal(s.has('h'), false);
});

test('old harm ages out of the window; reasons that say nothing about intent are no verdicts', () => {
  const s = new Shunning({ after: 2 });
  s.observe(report([], [['a', 'harmful']]), 0);
  for (let i = 0; i < 3; i++) s.observe(report(['a'], []), 0);
  assert.deepEqual(s.observe(report([], [['a', 'harmful']]), 0), [], 'the first harm left the window of 4');
  for (const reason of ['uncertain', 'duplicate', 'not-prioritized', 'not-selected'] as const)
    assert.deepEqual(s.observe(report([], [['b', reason]]), 0), []);
  assert.equal(s.has('b'), false);
  assert.deepEqual(s.observe(report([], [['c', 'non-finite']]), 0), []);
  assert.deepEqual(s.observe(report([], [['c', 'out-of-range']]), 0), ['c']);
  assert.deepEqual(s.observe(report([], [['d', 'copies']]), 0), []);
  assert.deepEqual(s.observe(report([], [['d', 'copies']]), 0), ['d'], 'near-copies of another sender are harm');
  assert.deepEqual(s.observe(report([], [['e', 'no-progress']]), 0), []);
  assert.deepEqual(s.observe(report([], [['e', 'no-progress']]), 0), [], 'one model that is behind is one verdict');
  assert.deepEqual(
    s.observe({ strategy: 'x', ownShare: 1, used: [], rejected: [{ peer: 'e', seq: 2, reason: 'no-progress' }] }, 0),
    ['e'],
    'a second model without progress is harm again',
  );
});

test('after 0 never shuns; bad settings are refused; memory is bounded', () => {
  const off = new Shunning({ after: 0 });
  for (let i = 0; i < 5; i++) assert.deepEqual(off.observe(report([], [['a', 'harmful']]), 0), []);
  assert.throws(() => new Shunning({ after: -1 }), /shunAfter must be an integer >= 0/);
  assert.throws(() => new Shunning({ after: 1.5 }), /shunAfter must be an integer >= 0/);
  assert.throws(() => new Shunning({ after: 3, window: 2 }), /window must be an integer >= after/);
  const small = new Shunning({ after: 1, capacity: 3 });
  for (const id of ['a', 'b', 'c', 'd']) small.observe(report([], [[id, 'harmful']]), 0);
  assert.equal(small.size, 3);
  assert.equal(small.has('a'), false, 'the oldest shunned id is released first');
  assert.deepEqual(small.release(1), ['a'], 'a shun dropped at capacity is reported as released');
  assert.deepEqual(small.release(2), []);
});

test('a shun lasts its term, doubled for each repeat; on probation one more harm verdict shuns again', () => {
  const s = new Shunning({ after: 2, term: 3 });
  s.observe(report([], [['a', 'harmful']]), 0);
  assert.deepEqual(s.observe(report([], [['a', 'harmful']]), 1), ['a']);
  assert.equal(s.until('a'), 4, 'shunned in round 1 for 3 rounds');
  assert.deepEqual(s.release(3), []);
  assert.ok(s.has('a'));
  assert.deepEqual(s.release(4), ['a']);
  assert.equal(s.has('a'), false);
  assert.deepEqual(s.observe(report(['a'], []), 4), [], 'used: no harm');
  assert.deepEqual(s.observe(report([], [['a', 'harmful']]), 5), ['a'], 'one harm on probation is enough');
  assert.equal(s.until('a'), 11, 'the second term is twice the first');
  assert.deepEqual(s.release(11), ['a']);
  for (let round = 11; round < 15; round++) s.observe(report(['a'], []), round);
  assert.deepEqual(s.observe(report([], [['a', 'harmful']]), 15), [], 'a clean probation: its old harm aged out');
  assert.deepEqual(s.observe(report([], [['a', 'harmful']]), 16), ['a']);
  assert.equal(s.until('a'), 22, 'a clean window halved its count of shuns: a term of 6, not 12');
  assert.equal(s.until('b'), undefined);

  const forGood = new Shunning({ after: 1, term: 0 });
  assert.deepEqual(forGood.observe(report([], [['a', 'harmful']]), 0), ['a']);
  assert.equal(forGood.until('a'), Number.POSITIVE_INFINITY);
  assert.deepEqual(forGood.release(1e9), [], 'term 0: for good');
  assert.throws(() => new Shunning({ after: 2, term: -1 }), /shunRounds must be an integer >= 0/);
  assert.throws(() => new Shunning({ after: 2, term: 0.5 }), /shunRounds must be an integer >= 0/);
});

test('a shunned id leaves the sampler view, its slot refills, and it is not taken again until readmitted', () => {
  const s = new PeerSampler({ self: 'me', neighbours: 3, seed: 1, resetEvery: 1 });
  s.introduce(['a', 'b', 'c', 'd', 'e']);
  const before = s.neighbours();
  assert.equal(before.length, 3);
  const victim = before[0] as string;
  s.shun(victim);
  const after = s.neighbours();
  assert.equal(after.length, 3, 'another known id takes the slot now');
  assert.ok(!after.includes(victim));
  for (let round = 1; round < 8; round++) {
    s.tick(round);
    s.introduce([victim]);
    s.acceptInbound(victim);
    s.acceptResponse(victim, [victim]);
    assert.ok(!s.neighbours().includes(victim), `round ${round}: still out`);
    assert.ok(!s.entries().includes(victim), 'and not passed on to others');
  }
  s.readmit(victim);
  assert.ok(!s.neighbours().includes(victim), 'readmitted, but not seen again yet');
  s.introduce([victim]);
  assert.ok(s.entries().includes(victim), 'seen again: known and passed on');
});

/** `mean` over every candidate but `bad`, which it reports as harmful. */
function meanWithout(bad: string): Strategy {
  const mean = createStrategy('mean');
  return (own, offered, ctx) => {
    const kept = offered.filter((c) => c.peer !== bad);
    const out = mean(own, kept, { ...ctx, report: undefined });
    ctx.report?.({
      strategy: 'test',
      ownShare: 1 / (kept.length + 1),
      used: kept.map((c) => ({ peer: c.peer, seq: c.seq, share: 1 / (kept.length + 1) })),
      rejected: offered.filter((c) => c.peer === bad).map((c) => ({ peer: c.peer, seq: c.seq, reason: 'harmful' })),
    });
    return out;
  };
}

/**
 * Peer `p<i>` of a bus mesh with D neighbours and one gossip step: p0 merges with `mean` and
 * never shuns; the others merge with `strategy` and shun after 2 harm verdicts for
 * `shunRounds`.
 */
function meshPeer(bus: Bus, i: number, D: number, strategy: Strategy, shunRounds: number): Peer {
  return tinyPeer(bus.join(`p${i}`), {
    seed: i + 1,
    neighbours: D,
    gossipSteps: 1,
    minFreshUpdates: 2,
    shunAfter: i === 0 ? 0 : 2,
    shunRounds,
    strategy: i === 0 ? createStrategy('mean') : strategy,
    deadline: { initialMs: 300, minMs: 50, maxMs: 1000 },
  });
}

test('on the bus, 8 peers with D = 3 that find p0 harmful shun it (for good: shunRounds 0) after 2 verdicts and refill its slot', async () => {
  const bus = new Bus();
  const D = 3;
  const peers: Peer[] = [];
  const rounds = new Map<string, RoundSummary[]>();
  /** Candidates each honest merge was offered, by peer and round. */
  const offered = new Map<string, string[][]>();
  for (let i = 0; i < 8; i++) {
    const id = `p${i}`;
    const bad = meanWithout('p0');
    const strategy: Strategy = (own, cands, ctx) => {
      offered.set(id, [...(offered.get(id) ?? []), cands.map((c) => c.peer)]);
      return bad(own, cands, ctx);
    };
    const p = meshPeer(bus, i, D, strategy, 0);
    p.addEventListener('round:end', (e) => rounds.set(id, [...(rounds.get(id) ?? []), e.detail]));
    p.addEventListener('error', (e) => assert.fail(`${id}: ${e.detail.message}`));
    peers.push(p);
  }
  for (const p of peers) await p.start();
  await Promise.all(peers.map((p) => p.run(8)));
  let shunners = 0;
  for (const p of peers.slice(1)) {
    const merges = offered.get(p.id) ?? [];
    const verdicts = merges.map((m) => m.includes('p0'));
    const second = verdicts.findIndex((v, i) => v && verdicts.slice(0, i).some((x) => x));
    const list = rounds.get(p.id) ?? [];
    assert.equal(list.length, 8);
    if (second === -1) continue; // p0 was never offered twice: nothing to shun it for
    shunners++;
    assert.ok(!verdicts.slice(second + 1).some((v) => v), `${p.id}: p0 offered after its second verdict`);
    assert.ok(!(p.following() ?? []).includes('p0'), `${p.id} still follows p0`);
    assert.equal(list.at(-1)?.shunned, 1);
    for (const r of list.slice(-2)) assert.ok(r.candidates <= D);
    assert.equal((p.following() ?? []).length, D, `${p.id}: another peer took the slot`);
  }
  assert.ok(shunners >= 1, 'some peer had p0 as a neighbour twice');
  await Promise.all(peers.map((p) => p.stop()));
  await bus.stop();
});

test('on the bus, a sender found harmful only while it is behind is shunned, then taken back after its term', async () => {
  const bus = new Bus();
  const D = 3;
  const ROUNDS = 10;
  const peers: Peer[] = [];
  /** Per honest peer, the rounds of its merges that were offered p0 (and so used it). */
  const usedIn = new Map<string, number[]>();
  const shunnedIn = new Map<string, number>();
  const readmitted = new Map<string, number[]>();
  for (let i = 0; i < 8; i++) {
    const id = `p${i}`;
    const bad = meanWithout('p0');
    const mean = createStrategy('mean');
    // p0 is "behind" (like a restarted daemon) in rounds 0-1 only.
    const strategy: Strategy = (own, cands, ctx) => {
      if (ctx.round < 2) return bad(own, cands, ctx);
      if (cands.some((c) => c.peer === 'p0')) usedIn.set(id, [...(usedIn.get(id) ?? []), ctx.round]);
      return mean(own, cands, ctx);
    };
    const p = meshPeer(bus, i, D, strategy, 2);
    p.addEventListener('peer:shunned', (e) => {
      assert.equal(e.detail.peer, 'p0');
      assert.equal(e.detail.until, e.detail.round + 2, 'shunned once (harm only in rounds 0-1), for 2 rounds');
      if (!shunnedIn.has(id)) shunnedIn.set(id, e.detail.round);
    });
    p.addEventListener('peer:readmitted', (e) => {
      readmitted.set(id, [...(readmitted.get(id) ?? []), e.detail.round]);
    });
    p.addEventListener('error', (e) => assert.fail(`${id}: ${e.detail.message}`));
    peers.push(p);
  }
  for (const p of peers) await p.start();
  await Promise.all(peers.map((p) => p.run(ROUNDS)));
  assert.ok(shunnedIn.size >= 1, 'some peer had p0 as a neighbour twice while it was behind');
  for (const [id, round] of shunnedIn)
    assert.equal(readmitted.get(id)?.[0], round + 2, `${id}: readmitted after 2 rounds`);
  const back = [...shunnedIn].filter(([id, round]) => (usedIn.get(id) ?? []).some((r) => r >= round + 2));
  assert.ok(
    back.length >= 1,
    `a peer that shunned p0 merged it again after the term: shunned ${JSON.stringify([...shunnedIn])}, used ${JSON.stringify([...usedIn])}`,
  );
  await Promise.all(peers.map((p) => p.stop()));
  await bus.stop();
});
