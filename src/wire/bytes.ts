/**
 * Bounds-checked little-endian reading and writing over Uint8Array. Every read checks the
 * remaining length first and throws DecodeError('undecodable'), so no caller can index
 * past the end or be fooled by a length field larger than the message.
 */
import { fail } from './errors.ts';

export class ByteReader {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  #pos: number;

  constructor(bytes: Uint8Array, start = 0) {
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#pos = start;
  }

  get offset(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.bytes.byteLength - this.#pos;
  }

  #need(n: number, what: string): void {
    if (n > this.remaining)
      fail('undecodable', `${what}: needs ${n} bytes at offset ${this.#pos}, ${this.remaining} left`);
  }

  u8(what: string): number {
    this.#need(1, what);
    return this.#view.getUint8(this.#pos++);
  }

  u16(what: string): number {
    this.#need(2, what);
    const v = this.#view.getUint16(this.#pos, true);
    this.#pos += 2;
    return v;
  }

  u32(what: string): number {
    this.#need(4, what);
    const v = this.#view.getUint32(this.#pos, true);
    this.#pos += 4;
    return v;
  }

  f32(what: string): number {
    this.#need(4, what);
    const v = this.#view.getFloat32(this.#pos, true);
    this.#pos += 4;
    return v;
  }

  /** A view (no copy) of the next n bytes. */
  take(n: number, what: string): Uint8Array {
    this.#need(n, what);
    const out = this.bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** Unsigned LEB128, at most 5 bytes and at most 2^32 - 1. */
  varint(what: string): number {
    let result = 0;
    for (let i = 0; i < 5; i++) {
      this.#need(1, what);
      const b = this.bytes[this.#pos++];
      result += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) fail('undecodable', `${what}: varint above 2^32-1`);
        return result;
      }
    }
    return fail('undecodable', `${what}: varint longer than 5 bytes`);
  }

  end(what: string): void {
    if (this.remaining !== 0) fail('undecodable', `${what}: ${this.remaining} trailing bytes`);
  }
}

export class ByteWriter {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  #pos = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
    this.#view = new DataView(this.bytes.buffer);
  }

  get offset(): number {
    return this.#pos;
  }

  u8(v: number): void {
    this.#view.setUint8(this.#pos, v);
    this.#pos += 1;
  }

  u16(v: number): void {
    this.#view.setUint16(this.#pos, v, true);
    this.#pos += 2;
  }

  u32(v: number): void {
    this.#view.setUint32(this.#pos, v, true);
    this.#pos += 4;
  }

  f32(v: number): void {
    this.#view.setFloat32(this.#pos, v, true);
    this.#pos += 4;
  }

  put(b: Uint8Array): void {
    this.bytes.set(b, this.#pos);
    this.#pos += b.byteLength;
  }

  /** The next n bytes as a view for the caller to fill (encoders writing in place). */
  reserve(n: number): Uint8Array {
    if (n > this.bytes.byteLength - this.#pos)
      throw new RangeError(`reserve ${n} bytes: only ${this.bytes.byteLength - this.#pos} left`);
    const out = this.bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** The written prefix (a view, no copy). */
  done(): Uint8Array {
    return this.bytes.subarray(0, this.#pos);
  }
}

/** Bytes needed for `v` as unsigned LEB128. */
export function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Writes unsigned LEB128 into `out` at `pos`; returns the new position. */
export function writeVarint(out: Uint8Array, pos: number, v: number): number {
  let x = v;
  while (x >= 0x80) {
    out[pos++] = (x & 0x7f) | 0x80;
    x = Math.floor(x / 128);
  }
  out[pos++] = x;
  return pos;
}

/** A copy of `bytes` whose buffer starts at offset 0, so typed-array views are aligned. */
export function aligned(bytes: Uint8Array, alignment: number): Uint8Array {
  return bytes.byteOffset % alignment === 0 ? bytes : bytes.slice();
}
