/**
 * Float32 bit-pattern helpers shared by the wire codecs, message validation and the merge
 * guard. Magnitudes of float32 values order like their bits with the sign cleared, read as
 * integers (NaN above +Infinity above every finite value), so a max over integers finds
 * max|x| and spots NaN/Infinity in the same pass, without float compares or Math.abs.
 * Byte order does not matter: an Int32Array view reads each float32's own 4 bytes in host
 * order, as the Float32Array does.
 */
/** The bits of `values[i]` as int32, sharing its memory. */
export function floatBits(values: Float32Array): Int32Array {
  return new Int32Array(values.buffer, values.byteOffset, values.length);
}

const bitsScratch = new Int32Array(1);
const floatScratch = new Float32Array(bitsScratch.buffer);

/** The float32 value of a bit pattern. */
export function floatFromBits(bits: number): number {
  bitsScratch[0] = bits;
  return floatScratch[0];
}

/** Bits at or above this (sign cleared) are +-Infinity or NaN. */
export const NON_FINITE_BITS = 0x7f800000;

/**
 * max over i of (bits of values[i]) & 0x7fffffff: the bits of max|x| when every value is
 * finite; >= 0x7f800000 when some value is NaN or +-Infinity. Four accumulators so the
 * loop is not one chain of dependent compares.
 */
export function floatBitsMaxAbs(values: Float32Array): number {
  const bits = floatBits(values);
  const n = bits.length;
  let m0 = 0;
  let m1 = 0;
  let m2 = 0;
  let m3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const a0 = bits[i] & 0x7fffffff;
    const a1 = bits[i + 1] & 0x7fffffff;
    const a2 = bits[i + 2] & 0x7fffffff;
    const a3 = bits[i + 3] & 0x7fffffff;
    m0 = a0 > m0 ? a0 : m0;
    m1 = a1 > m1 ? a1 : m1;
    m2 = a2 > m2 ? a2 : m2;
    m3 = a3 > m3 ? a3 : m3;
  }
  for (; i < n; i++) {
    const a = bits[i] & 0x7fffffff;
    m0 = a > m0 ? a : m0;
  }
  m0 = m1 > m0 ? m1 : m0;
  m2 = m3 > m2 ? m3 : m2;
  return m2 > m0 ? m2 : m0;
}
