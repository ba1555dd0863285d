/**
 * int8 codec: per-layer symmetric linear quantization. Payload = scale (float32 LE), then one
 * signed byte q per value; value = q * scale. The encoder picks scale = fround(max|x| / 127)
 * and q = clamp(round(x / scale), -127, 127) with Math.round (nearest, ties toward +Infinity),
 * so |x - q*scale| <= scale / 2 (plus float32 rounding of the product). Decoders accept -128.
 * A zero layer has scale 0. Receivers reject a scale that is not finite or is negative.
 */
import { INT8_LEVELS } from '../constants.ts';
import { fail } from '../errors.ts';

export function int8ByteLength(count: number): number {
  return 4 + count;
}

export function int8Scale(values: Float32Array): number {
  let maxAbs = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i] as number);
    if (a > maxAbs) maxAbs = a;
  }
  return Math.fround(maxAbs / INT8_LEVELS);
}

export function encodeInt8(values: Float32Array): Uint8Array {
  const out = new Uint8Array(int8ByteLength(values.length));
  const scale = int8Scale(values);
  new DataView(out.buffer).setFloat32(0, scale, true);
  if (scale === 0) return out;
  const q = new Int8Array(out.buffer, 4);
  for (let i = 0; i < values.length; i++) {
    let r = Math.round((values[i] as number) / scale);
    if (r > INT8_LEVELS) r = INT8_LEVELS;
    else if (r < -INT8_LEVELS) r = -INT8_LEVELS;
    q[i] = r;
  }
  return out;
}

export function decodeInt8(bytes: Uint8Array, count: number): Float32Array {
  if (bytes.byteLength !== int8ByteLength(count)) {
    fail('wrong-shape', `int8 payload of ${bytes.byteLength} bytes for ${count} values`);
  }
  const scale = new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, true);
  if (!(Number.isFinite(scale) && scale >= 0)) fail('bad-scale', `int8 scale ${scale} is not finite and >= 0`);
  const q = new Int8Array(bytes.buffer, bytes.byteOffset + 4, count);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (q[i] as number) * scale;
  return out;
}
