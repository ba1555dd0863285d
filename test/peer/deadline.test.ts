/** AdaptiveDeadline on its own: pure arithmetic over observed arrival delays, no clock. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdaptiveDeadline, DEFAULT_DEADLINE, validateDeadline } from '../../src/peer/deadline.ts';

test('before any arrival the deadline is initialMs', () => {
  assert.equal(new AdaptiveDeadline().current(), DEFAULT_DEADLINE.initialMs);
  assert.equal(new AdaptiveDeadline({ initialMs: 700 }).current(), 700);
  assert.deepEqual(new AdaptiveDeadline().options, DEFAULT_DEADLINE);
});

test('the deadline is factor x the quantile of observed delays', () => {
  const d = new AdaptiveDeadline({ minMs: 0, factor: 1.5, quantile: 0.9 });
  // shuffled 10..100: the 0.9 quantile of ten delays is the largest (index floor(9) = 9)
  for (const ms of [40, 100, 10, 70, 20, 90, 30, 60, 80, 50]) d.observe(ms);
  assert.equal(d.current(), 150);

  const median = new AdaptiveDeadline({ minMs: 0, factor: 2, quantile: 0.5 });
  for (const ms of [5, 1, 4, 2, 3]) median.observe(ms); // sorted 1..5, index floor(2.5) = 2
  assert.equal(median.current(), 6);

  const single = new AdaptiveDeadline({ minMs: 0, factor: 1 });
  single.observe(123);
  assert.equal(single.current(), 123);
});

test('one slow outlier among many fast arrivals does not set the deadline', () => {
  const d = new AdaptiveDeadline({ minMs: 0, factor: 1, quantile: 0.9 });
  for (let i = 0; i < 19; i++) d.observe(10);
  d.observe(10_000);
  // 20 delays: the 0.9 quantile is index 18, a fast one
  assert.equal(d.current(), 10);
});

test('the deadline is clamped to [minMs, maxMs]', () => {
  const fast = new AdaptiveDeadline({ minMs: 50, maxMs: 1000, initialMs: 500 });
  fast.observe(1);
  assert.equal(fast.current(), 50);
  const slow = new AdaptiveDeadline({ minMs: 50, maxMs: 1000, initialMs: 500 });
  slow.observe(5000);
  assert.equal(slow.current(), 1000);
});

test('only the last `window` delays count', () => {
  const d = new AdaptiveDeadline({ minMs: 0, factor: 1, quantile: 1, window: 3 });
  for (const ms of [900, 800, 700]) d.observe(ms);
  assert.equal(d.current(), 900);
  for (const ms of [10, 20, 30]) d.observe(ms);
  assert.equal(d.current(), 30, 'the slow early delays were forgotten');
  d.observe(5);
  assert.equal(d.current(), 30, 'window still holds 20, 30, 5');
  d.observe(6);
  d.observe(7);
  assert.equal(d.current(), 7);
});

test('negative and non-finite delays are ignored', () => {
  const d = new AdaptiveDeadline({ minMs: 0, initialMs: 400, factor: 1 });
  for (const ms of [-1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) d.observe(ms);
  assert.equal(d.current(), 400, 'still nothing observed');
  d.observe(0);
  assert.equal(d.current(), 0, 'zero is a valid delay');
});

test('validateDeadline fills defaults and refuses inconsistent options', () => {
  assert.deepEqual(validateDeadline({}), DEFAULT_DEADLINE);
  assert.deepEqual(validateDeadline({ factor: 2 }), { ...DEFAULT_DEADLINE, factor: 2 });
  const bad: Array<[Partial<typeof DEFAULT_DEADLINE>, RegExp]> = [
    [{ minMs: -1 }, /minMs <= maxMs/],
    [{ minMs: 100, maxMs: 50, initialMs: 60 }, /minMs <= maxMs/],
    [{ minMs: Number.NaN }, /minMs <= maxMs/],
    [{ initialMs: 10, minMs: 50 }, /initialMs must be in/],
    [{ initialMs: 40_000 }, /initialMs must be in/],
    [{ factor: 0.5 }, /factor must be >= 1/],
    [{ quantile: 0 }, /quantile must be in/],
    [{ quantile: 1.5 }, /quantile must be in/],
    [{ window: 0 }, /window must be an integer/],
    [{ window: 2.5 }, /window must be an integer/],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => validateDeadline(options, 'round.deadline'), message, JSON.stringify(options));
    assert.throws(() => new AdaptiveDeadline(options), message, JSON.stringify(options));
  }
  assert.throws(() => validateDeadline({ factor: 0 }, 'round.deadline'), /^Error: round\.deadline\.factor/);
});
