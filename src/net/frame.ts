/**
 * This layer's own 1-byte header on every gossip message (inside gossipsub's `data`):
 *
 * ```
 * inline:   0x00 | payload bytes
 * announce: 0x01 | size (u32, big-endian) | sha256(payload) (32 bytes)      = 37 bytes
 * ```
 *
 * An announcement names its payload by content (the hash is the id), so any peer that
 * holds the bytes can serve them over the payload protocol, not only the author.
 */
import { FrameError } from './errors.ts';

export const FRAME_INLINE = 0x00;
export const FRAME_ANNOUNCE = 0x01;
export const HASH_BYTES = 32;
export const ANNOUNCE_BYTES = 1 + 4 + HASH_BYTES;

export type Frame = { kind: 'inline'; payload: Uint8Array } | { kind: 'announce'; size: number; hash: Uint8Array };

export function encodeInline(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.byteLength + 1);
  out[0] = FRAME_INLINE;
  out.set(payload, 1);
  return out;
}

export function encodeAnnounce(size: number, hash: Uint8Array): Uint8Array {
  if (hash.byteLength !== HASH_BYTES) throw new FrameError(`hash must be ${HASH_BYTES} bytes`);
  if (!Number.isInteger(size) || size < 0 || size > 0xffffffff) throw new FrameError(`bad size ${size}`);
  const out = new Uint8Array(ANNOUNCE_BYTES);
  out[0] = FRAME_ANNOUNCE;
  new DataView(out.buffer).setUint32(1, size);
  out.set(hash, 5);
  return out;
}

/** Parse a frame; the inline payload is a view into `data`, not a copy. */
export function decodeFrame(data: Uint8Array): Frame {
  if (data.byteLength === 0) throw new FrameError('empty message');
  const kind = data[0];
  if (kind === FRAME_INLINE) return { kind: 'inline', payload: data.subarray(1) };
  if (kind === FRAME_ANNOUNCE) {
    if (data.byteLength !== ANNOUNCE_BYTES) throw new FrameError(`announcement of ${data.byteLength} bytes`);
    const size = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1);
    return { kind: 'announce', size, hash: data.slice(5) };
  }
  throw new FrameError(`unknown frame kind ${kind}`);
}
