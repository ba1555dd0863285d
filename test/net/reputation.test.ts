/** Reputation (the app-specific score): penalties add up and decay with a half-life, on an injected clock. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PENALTY, PENALTY_HALF_LIFE } from '../../src/net/constants.ts';
import { Reputation } from '../../src/net/reputation.ts';

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
  };
}

const close = (actual: number, expected: number): void =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} is not ${expected}`);

test('unknown peers score 0; each penalty subtracts `penalty`, `amount` times', () => {
  const c = clock();
  const r = new Reputation({ now: c.now });
  assert.equal(r.score('x'), 0);
  assert.deepEqual(r.peers(), []);
  r.penalize('x');
  assert.equal(r.score('x'), -PENALTY);
  r.penalize('x');
  assert.equal(r.score('x'), -2 * PENALTY);
  r.penalize('y', 3);
  assert.equal(r.score('y'), -3 * PENALTY);
  assert.equal(r.score('z'), 0, 'others are untouched');
  assert.deepEqual(r.peers().sort(), ['x', 'y']);

  const heavy = new Reputation({ penalty: 2.5, now: c.now });
  heavy.penalize('x', 2);
  assert.equal(heavy.score('x'), -5);
});

test('penalties halve every half-life, and new ones add to the decayed value', () => {
  const c = clock();
  const r = new Reputation({ penalty: 8, halfLife: 1000, now: c.now });
  r.penalize('x');
  c.advance(1000);
  close(r.score('x'), -4);
  c.advance(2000);
  close(r.score('x'), -1);
  r.penalize('x'); // -1 decayed + -8
  close(r.score('x'), -9);
  c.advance(500);
  close(r.score('x'), -9 * 0.5 ** 0.5);
});

test('a peer that behaves recovers fully: negligible values are dropped', () => {
  const c = clock();
  const r = new Reputation({ halfLife: 100, now: c.now });
  r.penalize('x');
  r.penalize('y');
  c.advance(100 * 9); // 1/512 of a penalty: above 1e-3
  assert.ok(r.score('x') < 0);
  c.advance(100 * 2); // 1/2048: below 1e-3, forgotten
  assert.equal(r.score('x'), 0);
  assert.deepEqual(r.peers(), [], 'y decayed the same way');
  r.penalize('x');
  assert.equal(r.score('x'), -PENALTY, 'a forgotten peer starts from 0 again');
});

test('defaults: one penalty of PENALTY with a PENALTY_HALF_LIFE half-life on Date.now', () => {
  const c = clock();
  const r = new Reputation({ now: c.now });
  r.penalize('x');
  c.advance(PENALTY_HALF_LIFE);
  close(r.score('x'), -PENALTY / 2);
  const real = new Reputation();
  real.penalize('x');
  assert.ok(real.score('x') <= -PENALTY * 0.9 && real.score('x') >= -PENALTY, 'no decay to speak of within a test');
});
