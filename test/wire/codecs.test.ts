import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../../src/data/rng.ts';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import { decodeFp16, encodeFp16, float32BitsToHalf, halfToNumber } from '../../src/wire/codecs/fp16.ts';
import { decodeFp32, encodeFp32 } from '../../src/wire/codecs/fp32.ts';
import { decodeInt8, encodeInt8 } from '../../src/wire/codecs/int8.ts';
import { decodeTopk, encodeTopk, topkIndices } from '../../src/wire/codecs/topk.ts';
import { DecodeError } from '../../src/wire/errors.ts';
import { roundTripLayer } from '../../src/wire/layer-codec.ts';
import { maxAbs } from './helpers.ts';

function f32Bits(x: number): number {
  return new Uint32Array(Float32Array.of(x).buffer)[0];
}

function gaussian(seed: number, n: number, sd: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = sd * rng.normal();
  return out;
}

test('fp32 is lossless, also from an unaligned buffer', () => {
  const x = Float32Array.of(0, -0, 1.5, -3.25e-30, 3.4e38, 1e-45);
  const bytes = encodeFp32(x);
  assert.deepEqual(decodeFp32(bytes, x.length), x);
  const shifted = new Uint8Array(bytes.byteLength + 1);
  shifted.set(bytes, 1);
  assert.deepEqual(decodeFp32(shifted.subarray(1), x.length), x);
});

test('fp16: every finite half survives float32 -> half exactly', () => {
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00) continue; // inf / nan
    const v = halfToNumber(h);
    assert.equal(float32BitsToHalf(f32Bits(v)), h, `half 0x${h.toString(16)}`);
  }
});

test('fp16: halfway cases round to even, just above rounds up', () => {
  for (let h = 0; h < 0x7bff; h++) {
    const lo = halfToNumber(h);
    const hi = halfToNumber(h + 1);
    const mid = (lo + hi) / 2; // exact in float32 for every adjacent half pair
    assert.equal(Math.fround(mid), mid);
    const even = (h & 1) === 0 ? h : h + 1;
    assert.equal(float32BitsToHalf(f32Bits(mid)), even, `tie between 0x${h.toString(16)} and next`);
    const above = new Float32Array(Uint32Array.of(f32Bits(mid) + 1).buffer)[0];
    assert.equal(float32BitsToHalf(f32Bits(above)), h + 1);
  }
});

test('fp16: overflow clamps to max finite, underflow to signed zero, NaN stays NaN', () => {
  assert.equal(halfToNumber(float32BitsToHalf(f32Bits(1e6))), 65504);
  assert.equal(halfToNumber(float32BitsToHalf(f32Bits(-1e6))), -65504);
  assert.equal(halfToNumber(float32BitsToHalf(f32Bits(65520))), 65504); // would round to Inf
  assert.equal(halfToNumber(float32BitsToHalf(f32Bits(Number.POSITIVE_INFINITY))), 65504);
  assert.equal(float32BitsToHalf(f32Bits(2 ** -26)), 0);
  assert.equal(float32BitsToHalf(f32Bits(-(2 ** -26))), 0x8000);
  assert.equal(float32BitsToHalf(f32Bits(2 ** -25)), 0); // tie with 2^-24 goes to even (0)
  assert.equal(float32BitsToHalf(f32Bits(1.5 * 2 ** -25)), 1);
  assert.ok(Number.isNaN(halfToNumber(float32BitsToHalf(f32Bits(Number.NaN)))));
});

test('fp16 round trip meets the documented bound on trained-like values', () => {
  const x = gaussian(2, 50_000, 0.05);
  x[0] = 1e-7; // subnormal range
  x[1] = 60000;
  const y = decodeFp16(encodeFp16(x), x.length);
  for (let i = 0; i < x.length; i++) {
    const a = x[i];
    const err = Math.abs(a - y[i]);
    const bound = Math.abs(a) >= 2 ** -14 ? Math.abs(a) * 2 ** -11 : 2 ** -25;
    assert.ok(err <= bound, `value ${a}: error ${err} > ${bound}`);
  }
});

test('int8: error at most scale/2 with scale = max|x|/127; zero layer; bad scales rejected', () => {
  for (const [seed, sd] of [
    [3, 0.05],
    [4, 100],
    [5, 1e-20],
  ] as const) {
    const x = gaussian(seed, 20_000, sd);
    const y = decodeInt8(encodeInt8(x), x.length);
    const scale = maxAbs(x) / 127;
    for (let i = 0; i < x.length; i++) {
      const err = Math.abs(x[i] - y[i]);
      assert.ok(err <= scale * 0.5 * (1 + 1e-5), `sd ${sd}: error ${err} > ${scale / 2}`);
    }
  }
  assert.deepEqual(decodeInt8(encodeInt8(new Float32Array(5)), 5), new Float32Array(5));
  for (const scale of [Number.NaN, Number.POSITIVE_INFINITY, -1]) {
    const bytes = encodeInt8(Float32Array.of(1, 2));
    new DataView(bytes.buffer).setFloat32(0, scale, true);
    assert.throws(
      () => decodeInt8(bytes, 2),
      (e: unknown) => e instanceof DecodeError && e.reason === 'bad-scale',
    );
  }
});

test('topkIndices picks exactly the k largest magnitudes, ascending, ties by index', () => {
  const rng = createRng(6);
  for (let trial = 0; trial < 30; trial++) {
    const n = 1 + rng.int(3000);
    const x = new Float32Array(n);
    // Few distinct values so that ties are common.
    for (let i = 0; i < n; i++) x[i] = (rng.int(9) - 4) * (trial % 2 === 0 ? 0.25 : 1e-3 * rng.next());
    const k = rng.int(n + 1);
    const got = [...topkIndices(x, k)];
    const expected = [...x.keys()]
      .sort((a, b) => Math.abs(x[b]) - Math.abs(x[a]) || a - b)
      .slice(0, k)
      .sort((a, b) => a - b);
    assert.deepEqual(got, expected, `trial ${trial}`);
  }
});

test('top-k keeps the largest entries exactly (fp32) and zeroes the rest', () => {
  const x = gaussian(7, 10_000, 0.05);
  const y = decodeTopk(encodeTopk(x, 100_000, 'fp32'), x.length, 100_000, 'fp32');
  let kept = 0;
  let minKept = Number.POSITIVE_INFINITY;
  let maxDropped = 0;
  for (let i = 0; i < x.length; i++) {
    if (y[i] !== 0) {
      assert.equal(y[i], x[i]);
      kept++;
      minKept = Math.min(minKept, Math.abs(x[i]));
    } else maxDropped = Math.max(maxDropped, Math.abs(x[i]));
  }
  assert.equal(kept, 1000);
  assert.ok(minKept >= maxDropped);
});

test('combined codecs: top-k error on kept entries follows the value codec bound', () => {
  const x = gaussian(8, 10_000, 0.05);
  for (const text of ['topk:0.1+int8', 'topk:0.05+fp16']) {
    const spec = parseCodec(text);
    const y = roundTripLayer(spec, x);
    const exact = roundTripLayer(parseCodec(text.replace(/\+.*/, '')), x);
    let keptMax = 0;
    for (let i = 0; i < x.length; i++) if (exact[i] !== 0) keptMax = Math.max(keptMax, Math.abs(x[i]));
    for (let i = 0; i < x.length; i++) {
      if (exact[i] === 0) continue;
      const err = Math.abs(exact[i] - y[i]);
      const bound = text.endsWith('int8') ? (keptMax / 127) * 0.5 * (1 + 1e-5) : Math.abs(x[i]) * 2 ** -11;
      assert.ok(err <= bound, `${text}: error ${err} > ${bound}`);
    }
  }
});

test('top-k decoder rejects out-of-range and non-increasing indices and excess k', () => {
  const x = Float32Array.of(0, 5, 0, 7, 0, 0, 0, 0, 0, 1);
  const good = encodeTopk(x, 200_000, 'fp32'); // k = 2: indices 1, 3 as varints 1, 2
  assert.deepEqual([...good.subarray(0, 6)], [2, 0, 0, 0, 1, 2]);
  const expectReason = (bytes: Uint8Array, n: number, reason: string) =>
    assert.throws(
      () => decodeTopk(bytes, n, 200_000, 'fp32'),
      (e: unknown) => e instanceof DecodeError && e.reason === reason,
    );
  const zeroGap = good.slice();
  zeroGap[5] = 0;
  expectReason(zeroGap, 10, 'bad-index');
  const outOfRange = good.slice();
  outOfRange[5] = 9; // 1 + 9 = 10 >= n
  expectReason(outOfRange, 10, 'bad-index');
  const bigK = good.slice();
  bigK[0] = 3;
  expectReason(bigK, 10, 'wrong-shape');
  expectReason(good.subarray(0, good.length - 1), 10, 'undecodable');
});
