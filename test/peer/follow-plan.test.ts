/**
 * The follow plan (src/peer/follow-plan.ts): free places are filled at once, followees are
 * replaced only within the round's budget, oldest first, and the plan never follows more
 * than the sampler offers; at that pace the followees of 100 peers still cover the mesh.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../../src/data/rng.ts';
import { OverlayGraph } from '../../src/net/graph.ts';
import { PeerSampler } from '../../src/net/peer-sampling.ts';
import { planFollows } from '../../src/peer/follow-plan.ts';

test('the first round fills every place whatever the budget', () => {
  assert.deepEqual(planFollows([], ['a', 'b', 'c'], 0), { follow: ['a', 'b', 'c'], unfollow: [] });
});

test('a view that changed entirely is followed one replacement per budget unit, oldest followee first', () => {
  const following = ['a', 'b', 'c'];
  const wanted = ['x', 'y', 'z'];
  assert.deepEqual(planFollows(following, wanted, 0), { follow: [], unfollow: [] });
  assert.deepEqual(planFollows(following, wanted, 1), { follow: ['x'], unfollow: ['a'] });
  assert.deepEqual(planFollows(following, wanted, 5), { follow: ['x', 'y', 'z'], unfollow: ['a', 'b', 'c'] });
});

test('a free place (a followee failed) is filled without the budget; a replacement still needs it', () => {
  assert.deepEqual(planFollows(['a', 'b'], ['a', 'b', 'c'], 0), { follow: ['c'], unfollow: [] });
  // one free place and one stale followee: the place is filled, the replacement waits
  assert.deepEqual(planFollows(['a', 'q'], ['a', 'b', 'c'], 0), { follow: ['b'], unfollow: [] });
  assert.deepEqual(planFollows(['a', 'q'], ['a', 'b', 'c'], 1), { follow: ['b', 'c'], unfollow: ['q'] });
});

test('followees the sampler no longer wants stay while nothing replaces them; never more than the view', () => {
  assert.deepEqual(planFollows(['a', 'b', 'c'], ['a'], 3), { follow: [], unfollow: [] });
  for (let budget = 0; budget < 4; budget++) {
    const following = ['a', 'b', 'c', 'd'];
    const wanted = ['d', 'e', 'f'];
    const plan = planFollows(following, wanted, budget);
    const after = following.filter((p) => !plan.unfollow.includes(p)).concat(plan.follow);
    assert.ok(after.length <= following.length);
    assert.equal(new Set(after).size, after.length);
    assert.ok(plan.follow.every((p) => wanted.includes(p)));
    assert.ok(plan.unfollow.length <= budget);
  }
});

test('followees at that pace still cover the mesh: 100 peers, D = 8, one replacement every 2 rounds', () => {
  // The samplers exchange as the Peer's neighbourhood does (test/net/peer-sampling.test.ts);
  // each peer's followees follow its view through planFollows with the Neighbourhood's budget.
  const n = 100;
  const swapEvery = 2;
  const graph = new OverlayGraph({ kind: 'random-regular', degree: 4, seed: 7 });
  const ids = Array.from({ length: n }, (_, i) => `h${i}`);
  for (const id of ids) graph.add(id);
  const samplers = new Map(ids.map((id, i) => [id, new PeerSampler({ self: id, neighbours: 8, seed: i + 1 })]));
  for (const id of ids) samplers.get(id)?.introduce(graph.neighbours(id));
  const following = new Map(ids.map((id) => [id, [] as string[]]));
  const ever = new Map(ids.map((id) => [id, new Set<string>()]));
  const rng = createRng(3);
  let windowed: Set<string>[] = [];
  const uncovered: number[] = [];
  let replacements = 0;
  for (let round = 0; round < 40; round++) {
    for (const [id, s] of samplers) {
      s.tick(round);
      const budget = round > 0 && round % swapEvery === 0 ? 1 : 0;
      const now = following.get(id) ?? [];
      const plan = planFollows(now, s.neighbours(), budget);
      assert.ok(plan.unfollow.length <= budget);
      replacements += plan.unfollow.length;
      const next = now.filter((p) => !plan.unfollow.includes(p)).concat(plan.follow);
      assert.ok(next.length <= 8 && new Set(next).size === next.length && !next.includes(id));
      following.set(id, next);
      for (const p of next) ever.get(id)?.add(p);
    }
    const order = [...ids];
    rng.shuffle(order);
    for (const id of order) {
      const s = samplers.get(id) as PeerSampler;
      const partner = s.partner();
      const other = partner === undefined ? undefined : samplers.get(partner);
      if (partner !== undefined && other?.acceptInbound(id)) s.acceptResponse(partner, other.entries());
    }
    windowed = [...windowed, new Set([...following.values()].flat())].slice(-3);
    if (round >= 10) {
      const union = new Set(windowed.flatMap((s) => [...s]));
      uncovered.push(ids.filter((id) => !union.has(id)).length);
    }
  }
  assert.deepEqual(
    uncovered.filter((u) => u > 0),
    [],
    `peers no one followed in a 3-round window: ${uncovered}`,
  );
  // Nearly every budgeted round (19 of them) replaces one: at 100 peers the view almost always holds someone new.
  assert.ok(replacements <= n * 19 && replacements >= 0.95 * n * 19, `${replacements} replacements`);
  const least = Math.min(...[...ever.values()].map((s) => s.size));
  assert.ok(least >= 20, `every peer followed at least 20 distinct peers in 40 rounds (seeded: 22), least ${least}`);
});
