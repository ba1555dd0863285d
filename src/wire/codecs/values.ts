/** Dispatch over the dense value codecs (fp32, fp16, int8). */
import { assertNever, type ValueCodecName } from '../codec-spec.ts';
import { decodeFp16, decodeFp16Into, encodeFp16, encodeFp16Into, fp16ByteLength } from './fp16.ts';
import { decodeFp32, decodeFp32Into, encodeFp32, encodeFp32Into, fp32ByteLength } from './fp32.ts';
import { decodeInt8, decodeInt8Into, encodeInt8, encodeInt8Into, int8ByteLength } from './int8.ts';

export function valuesByteLength(codec: ValueCodecName, count: number): number {
  switch (codec) {
    case 'fp32':
      return fp32ByteLength(count);
    case 'fp16':
      return fp16ByteLength(count);
    case 'int8':
      return int8ByteLength(count);
    default:
      return assertNever(codec);
  }
}

export function encodeValues(codec: ValueCodecName, values: Float32Array): Uint8Array {
  switch (codec) {
    case 'fp32':
      return encodeFp32(values);
    case 'fp16':
      return encodeFp16(values);
    case 'int8':
      return encodeInt8(values);
    default:
      return assertNever(codec);
  }
}

/**
 * Encodes into `out`, exactly valuesByteLength(codec, values.length) bytes at any offset:
 * a message writes each dense layer in place instead of allocating it and copying it in.
 */
export function encodeValuesInto(codec: ValueCodecName, values: Float32Array, out: Uint8Array): void {
  switch (codec) {
    case 'fp32':
      encodeFp32Into(values, out);
      return;
    case 'fp16':
      encodeFp16Into(values, out);
      return;
    case 'int8':
      encodeInt8Into(values, out);
      return;
    default:
      assertNever(codec);
  }
}

/** Throws DecodeError('wrong-shape') when the byte length does not fit `count` values. */
export function decodeValues(codec: ValueCodecName, bytes: Uint8Array, count: number): Float32Array {
  switch (codec) {
    case 'fp32':
      return decodeFp32(bytes, count);
    case 'fp16':
      return decodeFp16(bytes, count);
    case 'int8':
      return decodeInt8(bytes, count);
    default:
      return assertNever(codec);
  }
}

/** Decodes into `out` (count values): decodeValues without allocating. Throws DecodeError like it. */
export function decodeValuesInto(codec: ValueCodecName, bytes: Uint8Array, count: number, out: Float32Array): void {
  switch (codec) {
    case 'fp32':
      decodeFp32Into(bytes, count, out);
      return;
    case 'fp16':
      decodeFp16Into(bytes, count, out);
      return;
    case 'int8':
      decodeInt8Into(bytes, count, out);
      return;
    default:
      assertNever(codec);
  }
}
