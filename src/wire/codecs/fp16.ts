/**
 * fp16 codec: IEEE 754 binary16, little-endian. Encoding rounds to nearest, ties to even;
 * magnitudes above 65504 (including +-Infinity) clamp to +-65504; values below half the
 * smallest subnormal (2^-25) become signed zero; NaN stays NaN (validators reject it).
 * Error bound for |x| <= 65504: relative 2^-11 in the normal range (|x| >= 2^-14),
 * absolute 2^-25 in the subnormal range.
 */
import { HOST_IS_LITTLE_ENDIAN } from '../constants.ts';
import { fail } from '../errors.ts';

if (!HOST_IS_LITTLE_ENDIAN) throw new Error('meshfl wire codecs need a little-endian host');

const HALF_MAX_FINITE_BITS = 0x7bff;
const HALF_NAN_BITS = 0x7e00;

export function fp16ByteLength(count: number): number {
  return count * 2;
}

/** binary32 bit pattern -> binary16 bit pattern (round to nearest even, clamp overflow). */
export function float32BitsToHalf(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | (mant !== 0 ? HALF_NAN_BITS : HALF_MAX_FINITE_BITS);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 31) return sign | HALF_MAX_FINITE_BITS;
  if (e <= 0) {
    // Result is subnormal (or zero): value / 2^-24, rounded.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let q = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (q & 1) === 1)) q++;
    return sign | q; // q may reach 0x400, the smallest normal: still correct
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // carry may bump the exponent
  if (h >= 0x7c00) h = HALF_MAX_FINITE_BITS; // rounded up to infinity: clamp
  return sign | h;
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

let decodeTable: Float32Array | undefined;

function halfTable(): Float32Array {
  if (decodeTable === undefined) {
    decodeTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) decodeTable[h] = halfToNumber(h);
  }
  return decodeTable;
}

export function encodeFp16(values: Float32Array): Uint8Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) out[i] = float32BitsToHalf(bits[i] as number);
  return new Uint8Array(out.buffer);
}

export function decodeFp16(bytes: Uint8Array, count: number): Float32Array {
  if (bytes.byteLength !== fp16ByteLength(count)) {
    fail('wrong-shape', `fp16 payload of ${bytes.byteLength} bytes for ${count} values`);
  }
  const src = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  const halves = new Uint16Array(src.buffer, src.byteOffset, count);
  const table = halfTable();
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = table[halves[i] as number] as number;
  return out;
}
