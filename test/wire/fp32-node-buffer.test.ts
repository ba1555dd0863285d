/**
 * Regression: fp32 payloads that arrive as an unaligned Node Buffer (as over TCP) decode
 * to the sent values. Buffer#slice is a view into the shared pool, not a copy.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeFp32, encodeFp32 } from '../../src/wire/codecs/fp32.ts';

test('fp32 decodes an unaligned Node Buffer view', () => {
  const values = Float32Array.from([1.5, -2.25, 3e-7, 42]);
  const encoded = encodeFp32(values);
  const pool = Buffer.alloc(64, 0xff);
  pool.set(encoded, 3);
  const view = pool.subarray(3, 3 + encoded.byteLength);
  assert.notEqual(view.byteOffset % 4, 0);
  assert.deepEqual(decodeFp32(view, values.length), values);
});
