/** fp32 codec: the IEEE single-precision bytes, little-endian. Lossless. */
import { HOST_IS_LITTLE_ENDIAN } from '../constants.ts';
import { fail } from '../errors.ts';

if (!HOST_IS_LITTLE_ENDIAN) throw new Error('meshfl wire codecs need a little-endian host');

export function fp32ByteLength(count: number): number {
  return count * 4;
}

export function encodeFp32(values: Float32Array): Uint8Array {
  const copy = values.slice();
  return new Uint8Array(copy.buffer, 0, copy.byteLength);
}

/** Copies the bytes into `out` (exactly fp32ByteLength(values.length) bytes, any byte offset). */
export function encodeFp32Into(values: Float32Array, out: Uint8Array): void {
  if (out.byteLength !== fp32ByteLength(values.length)) throw new RangeError(`fp32 needs ${values.byteLength} bytes`);
  out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/** Copies `count` values' bytes into `out`. Throws DecodeError like decodeFp32. */
export function decodeFp32Into(bytes: Uint8Array, count: number, out: Float32Array): void {
  if (bytes.byteLength !== fp32ByteLength(count)) {
    fail('wrong-shape', `fp32 payload of ${bytes.byteLength} bytes for ${count} values`);
  }
  if (out.length !== count) throw new RangeError(`fp32 decode into ${out.length} values, expected ${count}`);
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
}

export function decodeFp32(bytes: Uint8Array, count: number): Float32Array {
  if (bytes.byteLength !== fp32ByteLength(count)) {
    fail('wrong-shape', `fp32 payload of ${bytes.byteLength} bytes for ${count} values`);
  }
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, count).slice();
  // Copy through the Uint8Array constructor: a Node Buffer's slice() is a view into its
  // shared pool, so `.slice().buffer` would read the wrong bytes (seen over TCP).
  return new Float32Array(new Uint8Array(bytes).buffer);
}
