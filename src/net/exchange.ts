/**
 * The responder side of a request/response exchange (docs/PROTOCOL.md "Transport"), framed
 * by hand so that every malformed or oversized request gets its documented answer at
 * once instead of a stream reset or a 30 s hang:
 *
 * - a length prefix above the limit (even 2^31) -> status 02 "request too large", closed;
 * - a malformed varint (more than 5 bytes, or more bytes than the limit can need) -> the
 *   stream is closed at once;
 * - a request that does not arrive whole within the read timeout (a slow or truncated
 *   stream) -> closed.
 */
import type { Stream } from '@libp2p/interface';
import { raceAbort } from './util.ts';

/** A uint32 varint has at most 5 bytes. */
const MAX_VARINT_BYTES = 5;

export type RequestRead =
  | { readonly kind: 'ok'; readonly request: Uint8Array }
  /** `length` is exact, or (`atLeast`) a lower bound when the prefix was cut short. */
  | { readonly kind: 'too-large'; readonly length: number; readonly atLeast?: boolean }
  | { readonly kind: 'malformed'; readonly why: string }
  | { readonly kind: 'incomplete'; readonly why: string };

/** Bytes needed to write `n` as a varint. */
export function varintLength(n: number): number {
  let bytes = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 0x80)) bytes++;
  return bytes;
}

export function encodeVarint(n: number): Uint8Array {
  const out = new Uint8Array(varintLength(n));
  let v = n;
  for (let i = 0; i < out.length - 1; i++) {
    out[i] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[out.length - 1] = v;
  return out;
}

/** The response header `varint 1 | status | varint len` (the body follows as is). */
export function responseHeader(status: number, bodyLength: number): Uint8Array {
  const len = encodeVarint(bodyLength);
  const out = new Uint8Array(2 + len.byteLength);
  out[0] = 1;
  out[1] = status;
  out.set(len, 2);
  return out;
}

/**
 * Reads one length-prefixed request of at most `maxBytes`. Never throws: a timeout or
 * abort of `signal`, or the stream ending early, is 'incomplete'. Stops reading as soon
 * as the outcome is known (the rest of the stream is left unread).
 */
export async function readRequest(stream: Stream, maxBytes: number, signal: AbortSignal): Promise<RequestRead> {
  const prefixLimit = Math.min(MAX_VARINT_BYTES, varintLength(maxBytes) + 1);
  const it = stream[Symbol.asyncIterator]();
  let length: number | undefined;
  let prefix = 0;
  let scale = 1;
  let prefixBytes = 0;
  let body: Uint8Array | undefined;
  let filled = 0;
  try {
    for (;;) {
      const next = await raceAbort(it.next(), signal);
      if (next.done === true) return { kind: 'incomplete', why: 'stream ended before the request was complete' };
      const chunk = next.value.subarray();
      let at = 0;
      while (length === undefined && at < chunk.byteLength) {
        const b = chunk[at++];
        prefix += (b & 0x7f) * scale;
        scale *= 0x80;
        prefixBytes++;
        if ((b & 0x80) === 0) {
          length = prefix;
          if (length > maxBytes) return { kind: 'too-large', length };
          body = new Uint8Array(length);
        } else if (prefixBytes >= prefixLimit) {
          // Longer than any length up to maxBytes needs: too large if it is a valid varint, malformed if not.
          return prefixBytes >= MAX_VARINT_BYTES
            ? { kind: 'malformed', why: `length prefix of more than ${MAX_VARINT_BYTES} bytes` }
            : { kind: 'too-large', length: scale, atLeast: true };
        }
      }
      if (body !== undefined) {
        const take = Math.min(chunk.byteLength - at, body.byteLength - filled);
        body.set(chunk.subarray(at, at + take), filled);
        filled += take;
        if (filled === body.byteLength) return { kind: 'ok', request: body };
      }
    }
  } catch (err) {
    return { kind: 'incomplete', why: err instanceof Error ? err.message : String(err) };
  } finally {
    void it.return?.(undefined)?.catch(() => {});
  }
}

/** Sends one response (header, then the body without copying it) and closes the write side. */
export async function sendResponse(
  stream: Stream,
  status: number,
  body: Uint8Array,
  signal: AbortSignal,
): Promise<void> {
  for (const part of [responseHeader(status, body.byteLength), body]) {
    if (part.byteLength > 0 && !stream.send(part)) await stream.onDrain({ signal });
  }
  await stream.close({ signal });
}
