/**
 * The model file format (backbones, checkpoints): bytes only, so it works in browsers too.
 *
 *   "MFLM" | u32 version | u32 header length | header JSON (UTF-8) | f32 values (LE) | u32 CRC-32
 *
 * The header names the spec, input shape, class count and every layer's name and shape;
 * values follow in layer order. The CRC covers everything before it, so a torn or
 * corrupted file is detected instead of loaded.
 */
import { type ModelSpec, parseModelSpec } from './spec.ts';
import { sizeOfShape, type Weights } from './weights.ts';

const MAGIC = [0x4d, 0x46, 0x4c, 0x4d]; // "MFLM"
const VERSION = 1;
const PREFIX_BYTES = 12;
const MAX_HEADER_BYTES = 1 << 20;

export interface ModelFile {
  readonly spec: ModelSpec;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly weights: Weights;
  /** Free-form metadata (dataset, round, peer id, ...). */
  readonly meta: Readonly<Record<string, unknown>>;
}

let crcTable: Uint32Array | undefined;

export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function encodeModelFile(file: ModelFile): Uint8Array {
  const header = new TextEncoder().encode(
    JSON.stringify({
      spec: file.spec,
      inputShape: file.inputShape,
      numClasses: file.numClasses,
      layers: file.weights.map((l) => ({ name: l.name, shape: l.shape })),
      meta: file.meta,
    }),
  );
  let values = 0;
  for (const l of file.weights) values += l.values.length;
  const out = new Uint8Array(PREFIX_BYTES + header.length + values * 4 + 4);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, header.length, true);
  out.set(header, PREFIX_BYTES);
  let o = PREFIX_BYTES + header.length;
  for (const l of file.weights) {
    for (let i = 0; i < l.values.length; i++, o += 4) view.setFloat32(o, l.values[i], true);
  }
  view.setUint32(o, crc32(out.subarray(0, o)), true);
  return out;
}

/** Parses and checks a model file; throws an Error naming `source` and what is wrong. */
export function decodeModelFile(bytes: Uint8Array, source = 'model file'): ModelFile {
  const fail = (why: string): never => {
    throw new Error(`${source}: ${why}`);
  };
  if (bytes.length < PREFIX_BYTES + 4) fail(`too short (${bytes.length} bytes)`);
  if (!MAGIC.every((b, i) => bytes[i] === b)) fail('not a meshfl model file (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== VERSION) fail(`unsupported version ${version} (this build reads ${VERSION})`);
  const stored = view.getUint32(bytes.length - 4, true);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== stored) fail('checksum mismatch (file is corrupt or truncated)');
  const headerLength = view.getUint32(8, true);
  if (headerLength > MAX_HEADER_BYTES || PREFIX_BYTES + headerLength > bytes.length - 4) fail('bad header length');
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength)));
  } catch {
    return fail('header is not valid JSON');
  }
  const spec = parseModelSpec(header.spec, `${source}: spec`);
  const inputShape = header.inputShape;
  if (!Array.isArray(inputShape) || !inputShape.every((d) => Number.isInteger(d) && d > 0)) fail('bad inputShape');
  const numClasses = header.numClasses;
  if (!Number.isInteger(numClasses) || (numClasses as number) < 2) fail('bad numClasses');
  const layers = header.layers;
  if (!Array.isArray(layers)) return fail('missing layers');
  let o = PREFIX_BYTES + headerLength;
  const weights = layers.map((l: unknown, i) => {
    const { name, shape } = (l ?? {}) as { name?: unknown; shape?: unknown };
    if (typeof name !== 'string' || !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      return fail(`layer ${i} has a bad name or shape`);
    }
    const size = sizeOfShape(shape);
    if (o + size * 4 > bytes.length - 4) fail(`layer ${name} runs past the end of the file`);
    const values = new Float32Array(size);
    for (let k = 0; k < size; k++, o += 4) values[k] = view.getFloat32(o, true);
    return { name, shape: shape as number[], values };
  });
  if (o !== bytes.length - 4) fail(`${bytes.length - 4 - o} unexpected bytes after the last layer`);
  const meta = typeof header.meta === 'object' && header.meta !== null ? (header.meta as Record<string, unknown>) : {};
  return { spec, inputShape: inputShape as number[], numClasses: numClasses as number, weights, meta };
}
