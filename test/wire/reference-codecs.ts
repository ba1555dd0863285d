/**
 * The int8 and fp16 codecs as they were before the fast loops (commit 5c7ae4c), value by
 * value and straight from their definitions: the oracle the property tests compare the
 * shipped codecs against, byte for byte. Do not optimise this file.
 */

export function referenceInt8(values: Float32Array): Uint8Array {
  const out = new Uint8Array(4 + values.length);
  let maxAbs = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a > maxAbs) maxAbs = a;
  }
  const scale = Math.fround(maxAbs / 127);
  new DataView(out.buffer).setFloat32(0, scale, true);
  if (scale === 0) return out;
  const q = new Int8Array(out.buffer, 4);
  for (let i = 0; i < values.length; i++) {
    let r = Math.round(values[i] / scale);
    if (r > 127) r = 127;
    else if (r < -127) r = -127;
    q[i] = r;
  }
  return out;
}

export function referenceDecodeInt8(bytes: Uint8Array, count: number): Float32Array {
  const scale = new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, true);
  const q = new Int8Array(bytes.buffer, bytes.byteOffset + 4, count);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = q[i] * scale;
  return out;
}

/** binary32 bit pattern -> binary16 bit pattern (round to nearest even, clamp overflow). */
export function referenceFloat32BitsToHalf(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | (mant !== 0 ? 0x7e00 : 0x7bff);
  const e = exp - 112;
  if (e >= 31) return sign | 0x7bff;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let q = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (q & 1) === 1)) q++;
    return sign | q;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
  if (h >= 0x7c00) h = 0x7bff;
  return sign | h;
}

export function referenceHalfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function referenceFp16(values: Float32Array): Uint8Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) out[i] = referenceFloat32BitsToHalf(bits[i]);
  return new Uint8Array(out.buffer);
}

export function referenceDecodeFp16(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = referenceHalfToNumber(bytes[2 * i] | (bytes[2 * i + 1] << 8));
  }
  return out;
}
