import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lagOf, PACE_SILENCE_ROUNDS, paceWindow, withArrival } from '../../src/peer/pace.ts';

/** Arrival rounds of a sender that publishes `steps` updates per round, all in one of our rounds, every `every` rounds of ours. */
function bursts(every: number, rounds: number, steps = 2): number[] {
  let arrivals: number[] = [];
  for (let r = 0; r < rounds; r++) for (let s = 0; s < steps; s++) arrivals = withArrival(arrivals, r * every, steps);
  return arrivals;
}

test('the window holds two of the sender rounds (2 x steps + 1 updates)', () => {
  assert.equal(paceWindow(2), 5);
  assert.equal(paceWindow(1), 3);
  assert.deepEqual(withArrival([1, 2, 3, 4, 5], 6, 2), [2, 3, 4, 5, 6]);
});

test('a sender at our pace lags 0, in phase or a gossip step out of it', () => {
  for (let round = 4; round < 12; round++) {
    // Two updates per round, both in the round (in phase) or one of them a round later.
    assert.equal(lagOf([round - 2, round - 2, round - 1, round - 1, round], round, 2), 0);
    assert.equal(lagOf([round - 2, round - 1, round - 1, round, round], round, 2), 0);
    assert.equal(lagOf([round - 3, round - 2, round - 2, round - 1, round - 1], round, 2), 0);
  }
});

test('a slower sender whose updates come in bursts lags by its pace, not by the burst', () => {
  // Three times slower: two updates in our round 0, 3, 6, ... The last three updates
  // (the measure before) spanned one burst and a gap: lag 1 at the burst.
  const arrivals = bursts(3, 4); // [3, 6, 6, 9, 9]
  assert.deepEqual(arrivals, [3, 6, 6, 9, 9]);
  assert.equal(lagOf(arrivals, 9, 2), 2);
  assert.equal(lagOf(arrivals, 11, 2), 3, 'silence since the last update counts');
  // Twice slower: one round behind.
  assert.equal(lagOf(bursts(2, 4), 6, 2), 1);
});

test('too few updates to measure: no lag; a partial window tolerates two rounds', () => {
  assert.equal(lagOf([], 5, 2), 0);
  assert.equal(lagOf([5, 5], 9, 2), 0);
  assert.equal(lagOf([3, 4, 5], 6, 2), 1);
  assert.equal(lagOf([4, 5, 5, 6], 6, 2), 0);
});

test('a sender faster than us lags 0', () => {
  assert.equal(lagOf([7, 7, 7, 7, 7], 7, 2), 0);
});

test("the gaps between a slower sender's bursts keep its window; a long silence starts it anew", () => {
  // Four times slower: bursts in our rounds 0, 4, 8, 12 (gaps longer than staleAfterRounds, 3).
  const arrivals = bursts(4, 4);
  assert.deepEqual(arrivals, [4, 8, 8, 12, 12]);
  assert.equal(lagOf(arrivals, 12, 2), 3);
  // Silent for PACE_SILENCE_ROUNDS: what came before says nothing about its pace now.
  assert.deepEqual(withArrival([1, 1, 2], 2 + PACE_SILENCE_ROUNDS, 2), [2 + PACE_SILENCE_ROUNDS]);
  assert.deepEqual(withArrival([1, 1, 2], 1 + PACE_SILENCE_ROUNDS, 2), [1, 1, 2, 1 + PACE_SILENCE_ROUNDS]);
});
