/** One layer through a codec spec: dense value codecs or top-k over a value codec. */
import { assertNever, type CodecSpec } from './codec-spec.ts';
import { decodeTopk, encodeTopk, topkByteLengthBound } from './codecs/topk.ts';
import { decodeValues, encodeValues, valuesByteLength } from './codecs/values.ts';

export function encodeLayer(spec: CodecSpec, values: Float32Array): Uint8Array {
  switch (spec.kind) {
    case 'dense':
      return encodeValues(spec.values, values);
    case 'topk':
      return encodeTopk(values, spec.ppm, spec.values);
    default:
      return assertNever(spec);
  }
}

/** Dense values of one layer of `count` entries; throws DecodeError on any inconsistency. */
export function decodeLayer(spec: CodecSpec, bytes: Uint8Array, count: number): Float32Array {
  switch (spec.kind) {
    case 'dense':
      return decodeValues(spec.values, bytes, count);
    case 'topk':
      return decodeTopk(bytes, count, spec.ppm, spec.values);
    default:
      return assertNever(spec);
  }
}

/** Exact payload size for dense codecs; an upper bound for top-k. */
export function layerByteLengthBound(spec: CodecSpec, count: number): number {
  switch (spec.kind) {
    case 'dense':
      return valuesByteLength(spec.values, count);
    case 'topk':
      return topkByteLengthBound(count, spec.ppm, spec.values);
    default:
      return assertNever(spec);
  }
}

/** decode(encode(values)): what every receiver will reconstruct from this layer. */
export function roundTripLayer(spec: CodecSpec, values: Float32Array): Float32Array {
  return decodeLayer(spec, encodeLayer(spec, values), values.length);
}
