/**
 * fp16 codec: IEEE 754 binary16, little-endian. Encoding rounds to nearest, ties to even;
 * magnitudes above 65504 (including +-Infinity) clamp to +-65504; values below half the
 * smallest subnormal (2^-25) become signed zero; NaN stays NaN (validators reject it).
 * Error bound for |x| <= 65504: relative 2^-11 in the normal range (|x| >= 2^-14),
 * absolute 2^-25 in the subnormal range.
 *
 * Speed: encoding is integer arithmetic on the float bits (float32BitsToHalf: one range test
 * and a rounding add in the common case), decoding a lookup of float32 bits in a table of all
 * 65536 halves; the encoder's loop is unrolled by four, and neither copies a payload at an odd byte
 * offset. The bytes are the same as a value-by-value implementation's (test/wire/codecs-reference.test.ts).
 */

import { floatBits } from '../../model/float-bits.ts';
import { HOST_IS_LITTLE_ENDIAN } from '../constants.ts';
import { fail } from '../errors.ts';

// Payloads are little-endian and written and read through Uint16Array views.
if (!HOST_IS_LITTLE_ENDIAN) throw new Error('meshfl wire codecs need a little-endian host');

const HALF_MAX_FINITE_BITS = 0x7bff;
const HALF_NAN_BITS = 0x7e00;

export function fp16ByteLength(count: number): number {
  return count * 2;
}

/**
 * Bits of |x| in [2^-14, 65520): the result is a normal half and no clamp is needed. One
 * unsigned compare (a - low) < (high - low) tests both ends.
 */
const NORMAL_LOW = 0x38800000; // 2^-14, the smallest normal half
const NORMAL_END = 0x477ff000; // 65520: it and everything above round to Infinity, clamped
const FLOAT32_INFINITY_BITS = 0x7f800000;
const HALF_SUBNORMAL_LOW = 0x33000000; // 2^-25: below it the result is signed zero

/**
 * binary32 bit pattern -> binary16 bit pattern (round to nearest even, clamp overflow).
 * Normal range: rebias the exponent (-112 << 23) and round the 13 dropped mantissa bits
 * by adding 0xfff plus the lowest kept bit, so a carry into the exponent is exact; the
 * rest (subnormal results, overflow, NaN) is rare and branches in `halfOfRareBits`.
 */
export function float32BitsToHalf(u: number): number {
  const a = u & 0x7fffffff;
  const h =
    (a - NORMAL_LOW) >>> 0 < NORMAL_END - NORMAL_LOW ? (a - 0x37fff001 + ((a >>> 13) & 1)) >>> 13 : halfOfRareBits(a);
  return ((u >>> 16) & 0x8000) | h;
}

/** |x|'s bits outside [2^-14, 65520) -> half bits without the sign. */
function halfOfRareBits(a: number): number {
  if (a >= NORMAL_END) return a > FLOAT32_INFINITY_BITS ? HALF_NAN_BITS : HALF_MAX_FINITE_BITS;
  if (a < HALF_SUBNORMAL_LOW) return 0;
  // Subnormal half: the 24-bit significand over 2^shift, rounded to nearest even.
  const m = (a & 0x7fffff) | 0x800000;
  const shift = 126 - (a >>> 23);
  return (m + (1 << (shift - 1)) - 1 + ((m >>> shift) & 1)) >>> shift; // 0x400 (smallest normal) is right too
}

/** binary16 bit pattern -> number (exact). */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let decodeTable: Int32Array | undefined;

/**
 * float32 bits of every half, built on first use (256 KiB, stays in L2): decoding copies
 * 32-bit integers, no float conversion per value.
 */
function halfTable(): Int32Array {
  if (decodeTable === undefined) {
    const values = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) values[h] = halfToNumber(h);
    decodeTable = floatBits(values);
  }
  return decodeTable;
}

/** Encodes into `out` (exactly fp16ByteLength(values.length) bytes, any byte offset). */
export function encodeFp16Into(values: Float32Array, out: Uint8Array): void {
  const n = values.length;
  if (out.byteLength !== fp16ByteLength(n)) throw new RangeError(`fp16 needs ${fp16ByteLength(n)} bytes`);
  const bits = floatBits(values);
  if (out.byteOffset % 2 !== 0) {
    // Odd offset (payloads in a message sit wherever the header leaves them): byte stores.
    for (let i = 0; i < n; i++) {
      const h = float32BitsToHalf(bits[i]);
      out[2 * i] = h & 0xff;
      out[2 * i + 1] = h >>> 8;
    }
    return;
  }
  const halves = new Uint16Array(out.buffer, out.byteOffset, n);
  let i = 0;
  for (; i + 3 < n; i += 4) {
    halves[i] = float32BitsToHalf(bits[i]);
    halves[i + 1] = float32BitsToHalf(bits[i + 1]);
    halves[i + 2] = float32BitsToHalf(bits[i + 2]);
    halves[i + 3] = float32BitsToHalf(bits[i + 3]);
  }
  for (; i < n; i++) halves[i] = float32BitsToHalf(bits[i]);
}

export function encodeFp16(values: Float32Array): Uint8Array {
  const out = new Uint8Array(fp16ByteLength(values.length));
  encodeFp16Into(values, out);
  return out;
}

function checkLength(bytes: Uint8Array, count: number): void {
  if (bytes.byteLength !== fp16ByteLength(count)) {
    fail('wrong-shape', `fp16 payload of ${bytes.byteLength} bytes for ${count} values`);
  }
}

/** Decodes into `out` (count values). Throws DecodeError like decodeFp16. */
export function decodeFp16Into(bytes: Uint8Array, count: number, out: Float32Array): void {
  checkLength(bytes, count);
  if (out.length !== count) throw new RangeError(`fp16 decode into ${out.length} values, expected ${count}`);
  const table = halfTable();
  const dst = floatBits(out);
  if (bytes.byteOffset % 2 !== 0) {
    // Odd offset: assemble each half from two bytes rather than copying the payload.
    for (let i = 0; i < count; i++) {
      dst[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
    }
    return;
  }
  const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
  // Not unrolled: with table loads, V8's unrolled loop measured 25% slower here.
  for (let i = 0; i < count; i++) dst[i] = table[halves[i]];
}

export function decodeFp16(bytes: Uint8Array, count: number): Float32Array {
  checkLength(bytes, count);
  const out = new Float32Array(count);
  decodeFp16Into(bytes, count, out);
  return out;
}
