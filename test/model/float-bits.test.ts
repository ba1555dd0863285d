import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../../src/data/rng.ts';
import { floatBitsMaxAbs, floatFromBits, NON_FINITE_BITS } from '../../src/model/float-bits.ts';
import { allFinite, layer } from '../../src/model/weights.ts';

test('floatBitsMaxAbs is the bits of max|x| for finite values, at every length and tail', () => {
  const rng = createRng(61);
  for (let n = 0; n <= 13; n++) {
    for (let trial = 0; trial < 20; trial++) {
      const x = Float32Array.from({ length: n }, () => rng.normal() * 2 ** (rng.int(60) - 30));
      if (n > 0 && trial % 4 === 0) x[rng.int(n)] = -3.4028235e38;
      if (n > 0 && trial % 5 === 0) x[rng.int(n)] = rng.next() < 0.5 ? 1e-45 : -0;
      const expected = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.equal(floatFromBits(floatBitsMaxAbs(x)), expected, `n ${n}, trial ${trial}`);
    }
  }
  // A subarray at an offset reads only its own values.
  const big = Float32Array.of(1000, 1, -2, 3, 1000);
  assert.equal(floatFromBits(floatBitsMaxAbs(big.subarray(1, 4))), 3);
});

test('floatBitsMaxAbs marks NaN and +-Infinity anywhere, allFinite reads it', () => {
  for (let n = 1; n <= 9; n++) {
    for (let at = 0; at < n; at++) {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const x = new Float32Array(n).fill(-3.4028235e38);
        x[at] = bad;
        assert.ok(floatBitsMaxAbs(x) >= NON_FINITE_BITS, `n ${n}, ${bad} at ${at}`);
        assert.equal(allFinite([layer('a', [1], [0]), layer('b', [n], x)]), false);
      }
    }
  }
  assert.equal(allFinite([layer('a', [4], [3.4028235e38, -3.4028235e38, -0, 1e-45])]), true);
});
