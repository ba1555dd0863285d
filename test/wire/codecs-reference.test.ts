/**
 * The fast int8/fp16 loops against the value-by-value reference (reference-codecs.ts): same
 * bytes on random layers with the edge cases mixed in (zeros, float32 and half subnormals,
 * exact rounding ties, +-max, overflow, NaN and +-Infinity), at even and odd byte offsets,
 * and inside whole messages. When the fast fp16 path was written, all 2^32 float32 bit
 * patterns were also compared once (95 s, too slow for the suite); below is a structured
 * sample of them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng, type Rng } from '../../src/data/rng.ts';
import { layer, type Weights } from '../../src/model/weights.ts';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import {
  decodeFp16,
  decodeFp16Into,
  encodeFp16,
  encodeFp16Into,
  float32BitsToHalf,
} from '../../src/wire/codecs/fp16.ts';
import { decodeInt8, decodeInt8Into, encodeInt8, encodeInt8Into } from '../../src/wire/codecs/int8.ts';
import {
  decodeValues,
  decodeValuesInto,
  encodeValues,
  encodeValuesInto,
  valuesByteLength,
} from '../../src/wire/codecs/values.ts';
import { decodeMessage, encodeMessage } from '../../src/wire/message.ts';
import { schemaFor } from './helpers.ts';
import {
  referenceDecodeFp16,
  referenceDecodeInt8,
  referenceFloat32BitsToHalf,
  referenceFp16,
  referenceInt8,
} from './reference-codecs.ts';

function bitsOf(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

/** Same float32 bits, except that any NaN equals any NaN. */
function assertSameFloats(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  const a = bitsOf(actual);
  const b = bitsOf(expected);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i] || (Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) continue;
    assert.fail(`${what}: value ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

const SPECIAL = [
  0,
  -0,
  1e-45, // smallest float32 subnormal
  -1.1754942e-38, // largest float32 subnormal
  2 ** -25, // half of the smallest half subnormal: ties to 0
  1.5 * 2 ** -25,
  2 ** -24,
  6.1e-5, // just below the smallest normal half
  2 ** -14,
  65504,
  -65504,
  65519.996,
  65520, // rounds to Infinity in fp16: clamped
  1e6,
  3.4028235e38,
  -3.4028235e38,
];
const NON_FINITE = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];

/**
 * A layer of `n` values up to 127 * 2^exponent: Gaussian values, specials, and (for
 * int8) exact ties (k + 1/2) * scale of the scale the encoder will pick.
 */
function randomLayer(rng: Rng, n: number, exponent: number, nonFinite: boolean): Float32Array {
  // A scale with 7 significant bits: peak = 127 scale and every (k + 1/2) scale are exact
  // float32 values, and the encoder picks this very scale (fround(peak / 127)).
  const scale = Math.fround((1 + rng.int(64) / 64) * 2 ** exponent);
  const peak = Math.fround(127 * scale);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng.next();
    if (r < 0.3)
      x[i] = (rng.int(254) - 127 + 0.5) * scale; // stored as float32: exact when representable
    else if (r < 0.4) x[i] = SPECIAL[rng.int(SPECIAL.length)];
    else x[i] = (peak * rng.normal()) / 3;
  }
  for (let i = 0; i < n; i++) if (Math.abs(x[i]) > peak) x[i] = peak * Math.sign(x[i]);
  if (n > 0) x[rng.int(n)] = rng.next() < 0.5 ? peak : -peak;
  if (nonFinite && n > 0) x[rng.int(n)] = NON_FINITE[rng.int(NON_FINITE.length)];
  return x;
}

/** `bytes` copied to an odd byte offset of a fresh buffer. */
function atOddOffset(length: number): Uint8Array {
  return new Uint8Array(length + 1).subarray(1);
}

test('float32BitsToHalf equals the reference on every sign/exponent/high-mantissa pattern with rounding-edge low bits', () => {
  const rng = createRng(41);
  // The low 16 bits decide the rounding of normal results: exact ties, one below and above.
  const lows = [0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x2fff, 0x3000, 0x3001, 0xf000, 0xffff];
  for (let high = 0; high < 0x10000; high++) {
    for (const low of [...lows, rng.int(0x10000), rng.int(0x10000)]) {
      const u = ((high << 16) | low) >>> 0;
      const expected = referenceFloat32BitsToHalf(u);
      // The codecs read bits through an Int32Array, so the signed form must agree too.
      if (float32BitsToHalf(u) !== expected || float32BitsToHalf(u | 0) !== expected) {
        assert.fail(
          `bits 0x${u.toString(16)}: 0x${float32BitsToHalf(u).toString(16)}, expected 0x${expected.toString(16)}`,
        );
      }
    }
  }
});

test('fp16 encode and decode equal the reference on random layers, at even and odd offsets', () => {
  const rng = createRng(42);
  for (let trial = 0; trial < 400; trial++) {
    const n = rng.int(70);
    const x = randomLayer(rng, n, rng.int(60) - 40, trial % 5 === 0);
    const expected = referenceFp16(x);
    assert.deepEqual(encodeFp16(x), expected, `trial ${trial}`);
    const odd = atOddOffset(2 * n);
    encodeFp16Into(x, odd);
    assert.deepEqual(odd, expected, `trial ${trial}, odd offset`);
    assertSameFloats(decodeFp16(expected, n), referenceDecodeFp16(expected, n), `trial ${trial} decode`);
    const out = new Float32Array(n);
    decodeFp16Into(odd, n, out);
    assertSameFloats(out, referenceDecodeFp16(expected, n), `trial ${trial} decode, odd offset`);
  }
});

test('fp16 decodes every half as the reference does', () => {
  const halves = new Uint16Array(0x10000).map((_, h) => h);
  const bytes = new Uint8Array(halves.buffer);
  assertSameFloats(decodeFp16(bytes, 0x10000), referenceDecodeFp16(bytes, 0x10000), 'all halves');
});

test('int8 encode and decode equal the reference: ties, subnormal scales, non-finite inputs, odd offsets', () => {
  const rng = createRng(43);
  let ties = 0;
  for (let trial = 0; trial < 1500; trial++) {
    const n = rng.int(90);
    // Exponents down to -140 give float32-subnormal scales (max|x| < 1.5e-36).
    const exponent = trial % 10 === 0 ? -149 + rng.int(25) : rng.int(80) - 50;
    const x = randomLayer(rng, n, exponent, trial % 7 === 0);
    const expected = referenceInt8(x);
    const scale = new DataView(expected.buffer).getFloat32(0, true);
    for (const v of x) if (scale > 0 && Number.isInteger(Math.abs(v / scale) - 0.5)) ties++;
    assert.deepEqual(encodeInt8(x), expected, `trial ${trial} (2^${exponent})`);
    const odd = atOddOffset(4 + n);
    encodeInt8Into(x, odd);
    assert.deepEqual(odd, expected, `trial ${trial}, odd offset`);
    if (Number.isFinite(scale)) {
      assertSameFloats(decodeInt8(expected, n), referenceDecodeInt8(expected, n), `trial ${trial} decode`);
      const out = new Float32Array(n);
      decodeInt8Into(odd, n, out);
      assertSameFloats(out, referenceDecodeInt8(expected, n), `trial ${trial} decode, odd offset`);
    }
  }
  assert.ok(ties > 10_000, `only ${ties} exact ties were exercised`);
});

test('int8 ties go toward +Infinity as Math.round does: 0.5 -> 1, -0.5 -> 0, -1.5 -> -1', () => {
  // max|x| = 127 makes the scale exactly 1, so x itself is x / scale.
  const x = Float32Array.of(127, 0.5, -0.5, -1.5, 1.5, 126.5, -126.5);
  const q = new Int8Array(encodeInt8(x).buffer, 4);
  assert.deepEqual([...q], [127, 1, 0, -1, 2, 127, -126]);
});

test('dense messages written in place hold the reference payloads, whatever the task id length', () => {
  const rng = createRng(44);
  const model: Weights = [
    layer('a', [5, 7], randomLayer(rng, 35, -7, false)),
    layer('b', [3], randomLayer(rng, 3, -3, false)),
    layer('c', [13], randomLayer(rng, 13, 2, false)),
  ];
  for (const taskId of ['t', 'tt', 'ttt']) {
    const schema = schemaFor(model, taskId);
    for (const [text, reference] of [
      ['fp16', referenceFp16],
      ['int8', referenceInt8],
    ] as const) {
      const codec = parseCodec(text);
      const fields = {
        kind: 'delta',
        taskId,
        fingerprint: schema.fingerprint,
        seq: 2,
        base: 1,
        samples: 3,
        codec,
      } as const;
      const bytes = encodeMessage(fields, model);
      const header = decodeMessage(bytes, schema);
      const expectedPayloads = model.map((l) => reference(l.values));
      const tail = expectedPayloads.reduce((s, p) => s + 4 + p.byteLength, 0);
      let at = header.payloadOffset;
      assert.equal(bytes.byteLength - at, tail, `${text}, task "${taskId}"`);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (const p of expectedPayloads) {
        assert.equal(view.getUint32(at, true), p.byteLength);
        assert.deepEqual(bytes.subarray(at + 4, at + 4 + p.byteLength), p, `${text}, task "${taskId}"`);
        at += 4 + p.byteLength;
      }
    }
  }
});

test('encodeValuesInto and decodeValuesInto agree with encodeValues and decodeValues for every dense codec, at odd offsets', () => {
  const rng = createRng(45);
  for (const codec of ['fp32', 'fp16', 'int8'] as const) {
    for (const n of [0, 1, 3, 4, 5, 33]) {
      const x = randomLayer(rng, n, -6, false);
      const expected = encodeValues(codec, x);
      const odd = atOddOffset(valuesByteLength(codec, n));
      encodeValuesInto(codec, x, odd);
      assert.deepEqual(odd, expected, `${codec} x${n}`);
      const out = new Float32Array(n);
      decodeValuesInto(codec, odd, n, out);
      assertSameFloats(out, decodeValues(codec, expected, n), `${codec} x${n} decode`);
    }
  }
});
