/**
 * The update message: a fixed little-endian header, the task id, then one length-prefixed
 * payload per layer (byte layout in docs/PROTOCOL.md). Layer element counts never come from
 * the wire: the receiver takes them from its own model (TaskSchema) and checks every length.
 */
import { floatBitsMaxAbs, floatFromBits, NON_FINITE_BITS } from '../model/float-bits.ts';
import { allFinite, type Weights } from '../model/weights.ts';
import { ByteReader, ByteWriter } from './bytes.ts';
import { assertNever, type CodecSpec, codecFromWire, codecToWire } from './codec-spec.ts';
import { encodeValuesInto } from './codecs/values.ts';
import {
  FIXED_HEADER_BYTES,
  FORMAT_VERSION,
  KIND_DELTA,
  KIND_KEYFRAME,
  LAYER_PREFIX_BYTES,
  MAX_LAYERS,
  MAX_SAMPLES,
  MAX_SEQ,
  TASK_ID_PATTERN,
  TASK_ID_RULE,
  UPDATE_MAGIC,
} from './constants.ts';
import { fail } from './errors.ts';
import { decodeLayer, encodeLayer, layerByteLengthBound } from './layer-codec.ts';
import { checkTaskId, fingerprintToWord, type TaskSchema, wordToFingerprint } from './schema.ts';

export type UpdateKind = 'delta' | 'keyframe';

/** What a sender chooses for one message. */
export interface UpdateFields {
  readonly kind: UpdateKind;
  readonly taskId: string;
  /** Sender sequence number, uint32, increasing by one per message. */
  readonly seq: number;
  /** The seq this delta applies on; equals seq for a keyframe. */
  readonly base: number;
  /** Local training samples behind this model (untrusted by receivers). */
  readonly samples: number;
  readonly codec: CodecSpec;
  /** The sender's task fingerprint (TaskSchema.fingerprint), 8 hex chars. */
  readonly fingerprint: string;
}

export interface UpdateHeader extends UpdateFields {
  readonly version: number;
  readonly layerCount: number;
  /** Byte offset of the first layer's length prefix. */
  readonly payloadOffset: number;
  /** Total message length in bytes. */
  readonly byteLength: number;
}

export interface Update extends UpdateHeader {
  /**
   * Dense decoded values in the receiver's layout: the delta q for 'delta' (zeros where
   * top-k dropped entries), the full public copy for 'keyframe'. All finite.
   */
  readonly weights: Weights;
}

function kindId(kind: UpdateKind): number {
  switch (kind) {
    case 'delta':
      return KIND_DELTA;
    case 'keyframe':
      return KIND_KEYFRAME;
    default:
      return assertNever(kind);
  }
}

function isUint(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}

/** Sender-side checks: a peer must never emit what its own validators would reject. */
function checkFields(fields: UpdateFields, values: Weights): void {
  checkTaskId(fields.taskId);
  if (!isUint(fields.seq, MAX_SEQ)) throw new RangeError(`seq ${fields.seq} is not a uint32`);
  if (!isUint(fields.base, MAX_SEQ)) throw new RangeError(`base ${fields.base} is not a uint32`);
  if (!isUint(fields.samples, MAX_SAMPLES)) throw new RangeError(`samples ${fields.samples} not in 0..${MAX_SAMPLES}`);
  if (fields.kind === 'keyframe' && fields.base !== fields.seq) throw new RangeError('keyframe base must equal seq');
  if (fields.kind === 'delta' && fields.base >= fields.seq) throw new RangeError('delta base must be below seq');
  if (fields.kind === 'keyframe' && fields.codec.kind !== 'dense') throw new RangeError('keyframes use a dense codec');
  if (values.length > MAX_LAYERS) throw new RangeError(`${values.length} layers, at most ${MAX_LAYERS}`);
  if (!allFinite(values)) throw new RangeError('refusing to encode non-finite values');
}

/** Encodes one update message. Throws RangeError on fields a receiver would reject. */
export function encodeMessage(fields: UpdateFields, values: Weights): Uint8Array {
  checkFields(fields, values);
  const taskBytes = new TextEncoder().encode(fields.taskId);
  const codec = fields.codec;
  // Dense payload sizes are known before encoding, so those layers are encoded in place in
  // the message (one allocation, no copy); top-k sizes are known only after.
  const payloads = codec.kind === 'dense' ? undefined : values.map((l) => encodeLayer(codec, l.values));
  const sizes = values.map((l, i) =>
    payloads === undefined ? layerByteLengthBound(codec, l.values.length) : payloads[i].byteLength,
  );
  let total = FIXED_HEADER_BYTES + taskBytes.byteLength;
  for (const size of sizes) total += LAYER_PREFIX_BYTES + size;
  const w = new ByteWriter(total);
  const wire = codecToWire(fields.codec);
  w.put(UPDATE_MAGIC);
  w.u8(FORMAT_VERSION);
  w.u8(kindId(fields.kind));
  w.u8(wire.valueId);
  w.u8(wire.sparsityId);
  w.u32(wire.ppm);
  w.u32(fingerprintToWord(fields.fingerprint));
  w.u32(fields.seq);
  w.u32(fields.base);
  w.u32(fields.samples);
  w.u16(values.length);
  w.u8(taskBytes.byteLength);
  w.put(taskBytes);
  for (let i = 0; i < values.length; i++) {
    const size = sizes[i];
    w.u32(size);
    if (payloads !== undefined) w.put(payloads[i]);
    else if (codec.kind === 'dense') encodeValuesInto(codec.values, values[i].values, w.reserve(size));
  }
  return w.done();
}

/** Upper bound (exact for dense codecs) of encodeMessage's output for this task and codec. */
export function maxEncodedSize(schema: TaskSchema, codec: CodecSpec): number {
  let total = FIXED_HEADER_BYTES + schema.taskIdBytes.byteLength;
  for (const l of schema.layers) total += LAYER_PREFIX_BYTES + layerByteLengthBound(codec, l.size);
  return total;
}

const FP32_DENSE: CodecSpec = { kind: 'dense', values: 'fp32' };
const TOPK_ALL_FP32: CodecSpec = { kind: 'topk', ppm: 1_000_000, values: 'fp32' };

/**
 * The largest update message a sender can legitimately send on this task: an fp32
 * keyframe, or a delta in any codec (top-k of every value in fp32 is the largest), or
 * only the `allowed` delta codecs when the receiver restricts them. Announcements of more
 * are lies (src/net: 'implausible-size').
 */
export function maxUpdateSize(schema: TaskSchema, allowed?: readonly CodecSpec[]): number {
  const codecs = [FP32_DENSE, ...(allowed ?? [TOPK_ALL_FP32])];
  return Math.max(...codecs.map((c) => maxEncodedSize(schema, c)));
}

/**
 * Parses and checks the header only (cheap: no payload is touched). Throws DecodeError with
 * 'undecodable', 'bad-version', 'bad-codec', 'bad-seq' or 'bad-samples'.
 */
export function decodeHeader(bytes: Uint8Array): UpdateHeader {
  const r = new ByteReader(bytes);
  if (bytes.byteLength < FIXED_HEADER_BYTES) {
    fail('undecodable', `${bytes.byteLength} bytes, shorter than the ${FIXED_HEADER_BYTES}-byte header`);
  }
  for (let i = 0; i < UPDATE_MAGIC.length; i++) {
    if (r.u8('magic') !== UPDATE_MAGIC[i]) fail('undecodable', 'bad magic: not a meshfl update message');
  }
  const version = r.u8('version');
  if (version !== FORMAT_VERSION) fail('bad-version', `format version ${version}, this peer speaks ${FORMAT_VERSION}`);
  const kindByte = r.u8('kind');
  const kind: UpdateKind =
    kindByte === KIND_DELTA
      ? 'delta'
      : kindByte === KIND_KEYFRAME
        ? 'keyframe'
        : fail('undecodable', `unknown message kind ${kindByte}`);
  const valueId = r.u8('value codec');
  const sparsityId = r.u8('sparsity');
  const ppm = r.u32('top-k ppm');
  const codec = codecFromWire({ valueId, sparsityId, ppm });
  if (kind === 'keyframe' && codec.kind !== 'dense') fail('bad-codec', 'keyframe with a sparse codec');
  const fp = wordToFingerprint(r.u32('fingerprint'));
  const seq = r.u32('seq');
  const base = r.u32('base');
  if (kind === 'keyframe' && base !== seq) fail('bad-seq', `keyframe seq ${seq} with base ${base}`);
  if (kind === 'delta' && base >= seq) fail('bad-seq', `delta seq ${seq} does not follow base ${base}`);
  const samples = r.u32('samples');
  if (samples > MAX_SAMPLES) fail('bad-samples', `sample count ${samples} above ${MAX_SAMPLES}`);
  const layerCount = r.u16('layer count');
  const taskLength = r.u8('task id length');
  const taskBytes = r.take(taskLength, 'task id');
  const taskId = String.fromCharCode(...taskBytes);
  if (!TASK_ID_PATTERN.test(taskId)) fail('undecodable', `task id is not ${TASK_ID_RULE}`);
  return {
    version,
    kind,
    codec,
    fingerprint: fp,
    seq,
    base,
    samples,
    layerCount,
    taskId,
    payloadOffset: r.offset,
    byteLength: bytes.byteLength,
  };
}

/** Header against the receiver's task: 'wrong-task', 'wrong-fingerprint', 'wrong-shape'. */
export function checkHeader(header: UpdateHeader, schema: TaskSchema): void {
  if (header.taskId !== schema.taskId) fail('wrong-task', `task "${header.taskId}", expected "${schema.taskId}"`);
  if (header.fingerprint !== schema.fingerprint) {
    fail('wrong-fingerprint', `task fingerprint ${header.fingerprint}, expected ${schema.fingerprint}`);
  }
  if (header.layerCount !== schema.layers.length) {
    fail('wrong-shape', `${header.layerCount} layers, expected ${schema.layers.length}`);
  }
}

function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Decoded layers and the largest magnitude in each (every value is finite). */
export interface CheckedLayers {
  readonly weights: Weights;
  /** max|v| of each layer: value-bound checks compare one number per layer. */
  readonly maxAbs: Float64Array;
}

/**
 * Decodes every layer payload after a checked header and checks that every value is finite,
 * in one integer pass per layer that also yields its max|v|. Throws DecodeError.
 */
export function decodeCheckedLayers(bytes: Uint8Array, header: UpdateHeader, schema: TaskSchema): CheckedLayers {
  const r = new ByteReader(bytes, header.payloadOffset);
  const maxAbs = new Float64Array(schema.layers.length);
  const weights = schema.layers.map((l, i) => {
    const length = r.u32(`layer ${i} length`);
    const payload = r.take(length, `layer ${i} payload`);
    const expected = layerByteLengthBound(header.codec, l.size);
    if (header.codec.kind === 'dense' && length !== expected) {
      fail('wrong-shape', `layer ${i} (${l.name}): ${length} bytes, expected ${expected}`);
    }
    const values = decodeLayer(header.codec, payload, l.size);
    const maxBits = floatBitsMaxAbs(values);
    if (maxBits >= NON_FINITE_BITS) {
      const bad = firstNonFinite(values);
      fail('non-finite', `layer ${i} (${l.name}) value ${bad} is ${values[bad]}`);
    }
    maxAbs[i] = floatFromBits(maxBits);
    return { name: l.name, shape: [...l.shape], values };
  });
  r.end('message');
  return { weights, maxAbs };
}

/** Decodes every layer payload after a checked header. Throws DecodeError. */
export function decodeLayers(bytes: Uint8Array, header: UpdateHeader, schema: TaskSchema): Weights {
  return decodeCheckedLayers(bytes, header, schema).weights;
}

/** Full decode against a task schema (no sequence state). Throws DecodeError. */
export function decodeMessage(bytes: Uint8Array, schema: TaskSchema): Update {
  const header = decodeHeader(bytes);
  checkHeader(header, schema);
  return { ...header, weights: decodeLayers(bytes, header, schema) };
}
