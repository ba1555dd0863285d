/**
 * IDX files (the format MNIST and Fashion-MNIST ship in), parsed from bytes.
 * Layout: two zero bytes, a dtype byte, a byte with the number of dimensions, one
 * big-endian uint32 per dimension, then the values row-major and big-endian.
 * Reference: http://yann.lecun.com/exdb/mnist/ (bottom of the page).
 */
import type { Dataset } from './dataset.ts';

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxValues = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  readonly dtype: IdxDtype;
  /** Size of each dimension, outermost first (e.g. [60000, 28, 28]). */
  readonly dims: readonly number[];
  /** prod(dims) values; for uint8 a view into the input bytes (no copy). */
  readonly data: IdxValues;
}

/** The dtype byte of each IDX dtype, and bytes per value. */
const DTYPE_BYTE: Readonly<Record<IdxDtype, number>> = {
  uint8: 0x08,
  int8: 0x09,
  int16: 0x0b,
  int32: 0x0c,
  float32: 0x0d,
  float64: 0x0e,
};
const DTYPE_SIZE: Readonly<Record<IdxDtype, number>> = {
  uint8: 1,
  int8: 1,
  int16: 2,
  int32: 4,
  float32: 4,
  float64: 8,
};
const DTYPE_BY_BYTE: ReadonlyMap<number, IdxDtype> = new Map(
  (Object.entries(DTYPE_BYTE) as [IdxDtype, number][]).map(([name, byte]) => [byte, name]),
);

const MAGIC_PREFIX_BYTES = 2;
const PREAMBLE_BYTES = 4;
const DIM_BYTES = 4;
const MAX_PIXEL = 255;

/** Parses one IDX file. `source` (e.g. the file path) prefixes every error message. */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  if (bytes.length < PREAMBLE_BYTES) {
    throw new RangeError(`${source}: truncated header (${bytes.length} bytes, need at least ${PREAMBLE_BYTES})`);
  }
  for (let i = 0; i < MAGIC_PREFIX_BYTES; i++) {
    if (bytes[i] !== 0) {
      const magic = Array.from(bytes.subarray(0, PREAMBLE_BYTES), (b) => b.toString(16).padStart(2, '0')).join(' ');
      throw new RangeError(`${source}: bad magic ${magic} (an IDX file starts with 00 00 <dtype> <ndims>)`);
    }
  }
  const dtypeByte = bytes[2];
  const dtype = DTYPE_BY_BYTE.get(dtypeByte);
  if (!dtype) throw new RangeError(`${source}: unknown IDX dtype byte 0x${dtypeByte.toString(16).padStart(2, '0')}`);
  const ndims = bytes[3];
  if (ndims === 0) throw new RangeError(`${source}: IDX header declares zero dimensions`);
  const headerBytes = PREAMBLE_BYTES + DIM_BYTES * ndims;
  if (bytes.length < headerBytes) {
    throw new RangeError(
      `${source}: truncated header (${bytes.length} bytes, ${ndims} dimensions need ${headerBytes})`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  const payloadBytes = bytes.length - headerBytes;
  const size = DTYPE_SIZE[dtype];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const dim = view.getUint32(PREAMBLE_BYTES + DIM_BYTES * i, false);
    if (dim === 0) throw new RangeError(`${source}: dimension ${i} has size 0`);
    dims.push(dim);
    count *= dim;
    // Stop early so absurd headers cannot overflow the product.
    if (count * size > payloadBytes) break;
  }
  if (dims.length !== ndims || count * size !== payloadBytes) {
    const more = dims.length < ndims;
    throw new RangeError(
      `${source}: size mismatch: dimensions [${dims.join(', ')}${more ? ', ...' : ''}] of ${dtype} ` +
        `need ${more ? 'more than ' : ''}${count * size} payload bytes, file has ${payloadBytes}`,
    );
  }
  return { dtype, dims, data: decodeValues(view, headerBytes, count, dtype) };
}

function decodeValues(view: DataView, offset: number, count: number, dtype: IdxDtype): IdxValues {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, count * DTYPE_SIZE[dtype]);
  switch (dtype) {
    case 'uint8':
      return bytes;
    case 'int8':
      return new Int8Array(bytes.buffer, bytes.byteOffset, count);
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
    default: {
      const unreachable: never = dtype;
      throw new Error(`unhandled IDX dtype ${unreachable}`);
    }
  }
}

/** Encodes an array as IDX bytes (big-endian); the inverse of parseIdx, used by tests and tools. */
export function encodeIdx(array: IdxArray): Uint8Array {
  const dtypeByte = DTYPE_BYTE[array.dtype];
  const size = DTYPE_SIZE[array.dtype];
  if (dtypeByte === undefined) throw new RangeError(`encodeIdx: unknown dtype ${array.dtype}`);
  const headerBytes = PREAMBLE_BYTES + DIM_BYTES * array.dims.length;
  const out = new Uint8Array(headerBytes + array.data.length * size);
  const view = new DataView(out.buffer);
  out[2] = dtypeByte;
  out[3] = array.dims.length;
  array.dims.forEach((d, i) => {
    view.setUint32(PREAMBLE_BYTES + DIM_BYTES * i, d, false);
  });
  for (let i = 0; i < array.data.length; i++) {
    const at = headerBytes + i * size;
    const v = array.data[i];
    if (array.dtype === 'uint8') view.setUint8(at, v);
    else if (array.dtype === 'int8') view.setInt8(at, v);
    else if (array.dtype === 'int16') view.setInt16(at, v, false);
    else if (array.dtype === 'int32') view.setInt32(at, v, false);
    else if (array.dtype === 'float32') view.setFloat32(at, v, false);
    else view.setFloat64(at, v, false);
  }
  return out;
}

/**
 * Images [n, rows, cols] (or [n, rows, cols, channels]) of uint8 and labels [n] of any
 * integer dtype -> a Dataset with pixels scaled to [0, 1] and featureShape [rows, cols, channels].
 */
export function idxToDataset(images: IdxArray, labels: IdxArray, numClasses: number, source = 'IDX data'): Dataset {
  if (!(Number.isInteger(numClasses) && numClasses >= 2 && numClasses <= 256)) {
    throw new RangeError(`${source}: numClasses must be an integer in [2, 256], got ${numClasses}`);
  }
  if (images.dtype !== 'uint8') throw new RangeError(`${source}: images must be uint8, got ${images.dtype}`);
  if (images.dims.length !== 3 && images.dims.length !== 4) {
    throw new RangeError(
      `${source}: images must have 3 or 4 dimensions [n, rows, cols(, channels)], got [${images.dims.join(', ')}]`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new RangeError(`${source}: labels must have 1 dimension, got [${labels.dims.join(', ')}]`);
  }
  if (labels.dtype === 'float32' || labels.dtype === 'float64') {
    throw new RangeError(`${source}: labels must be an integer dtype, got ${labels.dtype}`);
  }
  const [n, rows, cols, channels = 1] = images.dims as number[];
  if (labels.dims[0] !== n) throw new RangeError(`${source}: ${n} images but ${labels.dims[0]} labels`);
  const y = new Uint8Array(n);
  for (let i = 0; i < y.length; i++) {
    const label = labels.data[i];
    if (!(label >= 0 && label < numClasses)) {
      throw new RangeError(`${source}: label ${label} at sample ${i} is outside [0, ${numClasses})`);
    }
    y[i] = label;
  }
  const pixels = images.data;
  const x = new Float32Array(pixels.length);
  const scale = 1 / MAX_PIXEL;
  for (let i = 0; i < pixels.length; i++) x[i] = pixels[i] * scale;
  return { x, y, featureShape: [rows, cols, channels], numClasses };
}
