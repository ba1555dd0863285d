/**
 * The follow plan (src/peer/follow-plan.ts): free places are filled at once, followees are
 * replaced only within the round's budget, oldest first, and the plan never follows more
 * than the sampler offers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
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
