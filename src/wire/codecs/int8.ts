/**
 * int8 codec: per-layer symmetric linear quantization. Payload = scale (float32 LE), then one
 * signed byte q per value; value = q * scale. The encoder picks scale = fround(max|x| / 127)
 * and q = clamp(round(x / scale), -127, 127) with Math.round (nearest, ties toward +Infinity),
 * so |x - q*scale| <= scale / 2 (plus float32 rounding of the product). Decoders accept -128.
 * A zero layer has scale 0. Receivers reject a scale that is not finite or is negative.
 *
 * Speed: the encoder takes max|x| from the float bits (an integer max), multiplies by the
 * reciprocal of the scale and rounds with Math.floor (one instruction) instead of dividing and
 * calling Math.round (8x slower than Math.floor in a loop here, on V8 12); loops are unrolled
 * by four, which V8 does not do itself. The result is the same byte for byte; why is in `roundQuotient`.
 * Inputs with NaN or +-Infinity and layers whose scale would be a float32 subnormal go through
 * `encodeInt8Reference`, the definition itself (no sender emits either: encodeMessage refuses
 * non-finite values, and a subnormal scale needs max|x| < 1.5e-36).
 */

import { floatBitsMaxAbs, floatFromBits, NON_FINITE_BITS } from '../../model/float-bits.ts';
import { INT8_LEVELS } from '../constants.ts';
import { fail } from '../errors.ts';

export function int8ByteLength(count: number): number {
  return 4 + count;
}

export function int8Scale(values: Float32Array): number {
  let maxAbs = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a > maxAbs) maxAbs = a;
  }
  return Math.fround(maxAbs / INT8_LEVELS);
}

/** Smallest normal float32: below it a scale loses precision and quotients can exceed 127. */
const MIN_NORMAL_SCALE = 2 ** -126;
/**
 * Added to t + 1/2 before flooring. A quotient x / scale of two float32 values with
 * |x / scale| >= 1/4 that is not exactly k + 1/2 lies at least 2^-27 from it (write
 * x = X 2^a, scale = S 2^b with integers X, S < 2^24: the gap is a nonzero integer over
 * 2 S 2^max(0, b-a), and |x / scale| >= 1/4 bounds that denominator by 2^27). In float64,
 * t = x * (1 / scale) is within 2^-45 of the exact quotient for |t| <= 128 and adding the
 * constant rounds by at most 2^-46, so floor(t + 1/2 + 2^-30) equals floor(x / scale + 1/2),
 * i.e. Math.round(x / scale), exact ties included (Math.round sends them toward +Infinity,
 * and the nudge lifts a tie computed a hair low). Below 1/4 both give 0.
 */
const HALF_PLUS_NUDGE = 0.5 + 2 ** -30;

/** Math.round(x / scale) for |x / scale| <= 127 (1 + 2^-23), given inverse = 1 / scale; see HALF_PLUS_NUDGE. */
function roundQuotient(x: number, inverse: number): number {
  return Math.floor(x * inverse + HALF_PLUS_NUDGE);
}

/** The definition, value by value: the path for non-finite inputs and subnormal scales. */
function encodeInt8Reference(values: Float32Array, q: Int8Array): number {
  const scale = int8Scale(values);
  if (scale === 0) {
    q.fill(0);
    return scale;
  }
  for (let i = 0; i < values.length; i++) {
    let r = Math.round(values[i] / scale);
    if (r > INT8_LEVELS) r = INT8_LEVELS;
    else if (r < -INT8_LEVELS) r = -INT8_LEVELS;
    q[i] = r;
  }
  return scale;
}

/** Encodes into `out` (exactly int8ByteLength(values.length) bytes, any byte offset). */
export function encodeInt8Into(values: Float32Array, out: Uint8Array): void {
  const n = values.length;
  if (out.byteLength !== int8ByteLength(n)) throw new RangeError(`int8 needs ${int8ByteLength(n)} bytes`);
  const q = new Int8Array(out.buffer, out.byteOffset + 4, n);
  const maxBits = floatBitsMaxAbs(values);
  let scale: number;
  if (maxBits >= NON_FINITE_BITS || maxBits === 0) scale = encodeInt8Reference(values, q);
  else {
    scale = Math.fround(floatFromBits(maxBits) / INT8_LEVELS);
    if (scale < MIN_NORMAL_SCALE) scale = encodeInt8Reference(values, q);
    else {
      // A normal scale is within 2^-24 of max|x| / 127, so every |x / scale| <= 127 (1 + 2^-23)
      // and rounds into [-127, 127]: no clamp.
      const inverse = 1 / scale;
      let i = 0;
      for (; i + 3 < n; i += 4) {
        q[i] = roundQuotient(values[i], inverse);
        q[i + 1] = roundQuotient(values[i + 1], inverse);
        q[i + 2] = roundQuotient(values[i + 2], inverse);
        q[i + 3] = roundQuotient(values[i + 3], inverse);
      }
      for (; i < n; i++) q[i] = roundQuotient(values[i], inverse);
    }
  }
  new DataView(out.buffer, out.byteOffset, 4).setFloat32(0, scale, true);
}

export function encodeInt8(values: Float32Array): Uint8Array {
  const out = new Uint8Array(int8ByteLength(values.length));
  encodeInt8Into(values, out);
  return out;
}

function checkedScale(bytes: Uint8Array, count: number): number {
  if (bytes.byteLength !== int8ByteLength(count)) {
    fail('wrong-shape', `int8 payload of ${bytes.byteLength} bytes for ${count} values`);
  }
  const scale = new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, true);
  if (!(Number.isFinite(scale) && scale >= 0)) fail('bad-scale', `int8 scale ${scale} is not finite and >= 0`);
  return scale;
}

/** Decodes into `out` (count values). Throws DecodeError like decodeInt8. */
export function decodeInt8Into(bytes: Uint8Array, count: number, out: Float32Array): void {
  const scale = checkedScale(bytes, count);
  if (out.length !== count) throw new RangeError(`int8 decode into ${out.length} values, expected ${count}`);
  const q = new Int8Array(bytes.buffer, bytes.byteOffset + 4, count);
  let i = 0;
  for (; i + 3 < count; i += 4) {
    out[i] = q[i] * scale;
    out[i + 1] = q[i + 1] * scale;
    out[i + 2] = q[i + 2] * scale;
    out[i + 3] = q[i + 3] * scale;
  }
  for (; i < count; i++) out[i] = q[i] * scale;
}

export function decodeInt8(bytes: Uint8Array, count: number): Float32Array {
  checkedScale(bytes, count); // shape and scale errors before allocating for `count`
  const out = new Float32Array(count);
  decodeInt8Into(bytes, count, out);
  return out;
}
