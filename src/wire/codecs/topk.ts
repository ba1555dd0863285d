/**
 * Top-k sparsification: per layer keep the k = ceil(n * fraction) entries of largest
 * magnitude (ties broken by lower index), send them as
 *   uint32 k | k indices as LEB128 varints: the first index, then each gap to the previous
 *   index (gap >= 1, so indices strictly increase) | the k kept values in a value codec.
 * Receivers rebuild a dense layer with zeros elsewhere. Error: exactly the dropped entries.
 */
import { ByteReader, varintSize, writeVarint } from '../bytes.ts';
import { topkCount, type ValueCodecName } from '../codec-spec.ts';
import { fail } from '../errors.ts';
import { decodeValues, encodeValues, valuesByteLength } from './values.ts';

const BUCKETS = 65536;

/**
 * Indices (ascending) of the k largest |values|. Radix select on the float bit patterns:
 * magnitudes of finite floats order like their bits as unsigned integers, so two 16-bit
 * histogram passes find the exact k-th largest magnitude in O(n) without sorting.
 */
export function topkIndices(values: Float32Array, k: number): Uint32Array {
  const n = values.length;
  const out = new Uint32Array(k);
  if (k === 0) return out;
  if (k >= n) {
    for (let i = 0; i < n; i++) out[i] = i;
    return out;
  }
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  const hist = new Uint32Array(BUCKETS);
  for (let i = 0; i < n; i++) hist[(bits[i] & 0x7fffffff) >>> 16]++;
  let high = BUCKETS - 1;
  let above = 0;
  while (above + hist[high] < k) above += hist[high--];
  hist.fill(0);
  for (let i = 0; i < n; i++) {
    const m = bits[i] & 0x7fffffff;
    if (m >>> 16 === high) hist[m & 0xffff]++;
  }
  let low = BUCKETS - 1;
  while (above + hist[low] < k) above += hist[low--];
  const threshold = ((high << 16) | low) >>> 0;
  let ties = k - above; // how many entries equal to the threshold to keep, lowest index first
  let o = 0;
  for (let i = 0; i < n && o < k; i++) {
    const m = (bits[i] & 0x7fffffff) >>> 0;
    if (m > threshold) out[o++] = i;
    else if (m === threshold && ties > 0) {
      out[o++] = i;
      ties--;
    }
  }
  return out;
}

export function topkByteLengthBound(count: number, ppm: number, values: ValueCodecName): number {
  const k = topkCount(count, ppm);
  return 4 + k * varintSize(Math.max(0, count - 1)) + valuesByteLength(values, k);
}

export function encodeTopk(values: Float32Array, ppm: number, codec: ValueCodecName): Uint8Array {
  const k = topkCount(values.length, ppm);
  const idx = topkIndices(values, k);
  const kept = new Float32Array(k);
  let indexBytes = 0;
  let prev = 0;
  for (let i = 0; i < k; i++) {
    const j = idx[i];
    kept[i] = values[j];
    indexBytes += varintSize(i === 0 ? j : j - prev);
    prev = j;
  }
  const valueBytes = encodeValues(codec, kept);
  const out = new Uint8Array(4 + indexBytes + valueBytes.byteLength);
  new DataView(out.buffer).setUint32(0, k, true);
  let pos = 4;
  prev = 0;
  for (let i = 0; i < k; i++) {
    const j = idx[i];
    pos = writeVarint(out, pos, i === 0 ? j : j - prev);
    prev = j;
  }
  out.set(valueBytes, pos);
  return out;
}

/** Dense reconstruction of a top-k payload for a layer of `count` values. */
export function decodeTopk(bytes: Uint8Array, count: number, ppm: number, codec: ValueCodecName): Float32Array {
  const reader = new ByteReader(bytes);
  const k = reader.u32('top-k count');
  const maxK = topkCount(count, ppm);
  if (k > maxK) fail('wrong-shape', `top-k count ${k} above ${maxK} for a layer of ${count} at ${ppm} ppm`);
  // Every index takes at least one byte: refuse before allocating for an absurd k.
  if (k > reader.remaining) fail('undecodable', `top-k count ${k} exceeds the ${reader.remaining} bytes left`);
  const idx = new Uint32Array(k);
  let prev = -1;
  for (let i = 0; i < k; i++) {
    const v = reader.varint('top-k index');
    if (i > 0 && v === 0) fail('bad-index', `top-k index ${i} does not increase (gap 0)`);
    const j = i === 0 ? v : prev + v;
    if (j >= count) fail('bad-index', `top-k index ${j} out of range for a layer of ${count}`);
    idx[i] = j;
    prev = j;
  }
  const need = valuesByteLength(codec, k);
  if (reader.remaining !== need) {
    fail('undecodable', `top-k values: ${reader.remaining} bytes for ${k} ${codec} values (${need} expected)`);
  }
  const kept = decodeValues(codec, reader.take(need, 'top-k values'), k);
  const out = new Float32Array(count);
  for (let i = 0; i < k; i++) out[idx[i]] = kept[i];
  return out;
}
