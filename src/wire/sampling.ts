/**
 * The sampling protocol's message (/meshfl/1/sample, docs/PROTOCOL.md "Neighbours"): peer
 * sampling exchanges and follow requests. Small, and decoded only by these functions,
 * which never throw on bad input except DecodeError.
 *
 *   magic "MFLS" | version | kind | task id length T | task id | fingerprint (u32)
 *   | entry count n | n x ( id length L | id | address count A | A x ( u16 length M | address ) )
 *   [ | last seq (u32), kind 5 only ]
 *
 * Kinds: 1 exchange (request), 2 exchange answer, 3 follow, 4 unfollow, 5 leave (follow,
 * unfollow and leave carry no entries; a leave ends with the sender's last published seq:
 * it publishes nothing more). Integers little-endian, as the update message.
 */
import { ByteReader, ByteWriter } from './bytes.ts';
import { FORMAT_VERSION, TASK_ID_PATTERN, TASK_ID_RULE } from './constants.ts';
import { DecodeError, fail, type RejectReason } from './errors.ts';
import { checkTaskId, fingerprintToWord, type TaskSchema, wordToFingerprint } from './schema.ts';

/** "MFLS": first four bytes of a sampling message. */
export const SAMPLE_MAGIC = Uint8Array.of(0x4d, 0x46, 0x4c, 0x53);
/** Entries in one message (MAX_SAMPLE_ENTRIES in src/net/peer-sampling.ts must not exceed it). */
export const MAX_WIRE_ENTRIES = 32;
/** A peer id: libp2p's base58 ids are 46-53 characters; bus ids are short. */
export const MAX_PEER_ID_LENGTH = 128;
export const PEER_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
/** Addresses per entry (multiaddr text, so the receiver can dial a peer it never met). */
export const MAX_ADDRESSES = 4;
export const MAX_ADDRESS_LENGTH = 256;
/** Printable ASCII starting with "/": what a multiaddr's text form is. */
export const ADDRESS_PATTERN = /^\/[\x21-\x7e]{0,255}$/;

/** Largest encoded message: the header, then 32 entries each at their largest. */
export const MAX_SAMPLE_MESSAGE_BYTES =
  4 +
  1 +
  1 +
  1 +
  64 +
  4 +
  1 +
  MAX_WIRE_ENTRIES * (1 + MAX_PEER_ID_LENGTH + 1 + MAX_ADDRESSES * (2 + MAX_ADDRESS_LENGTH));

export type SampleKind = 'exchange' | 'answer' | 'follow' | 'unfollow' | 'leave';
const KIND_IDS: Record<SampleKind, number> = { exchange: 1, answer: 2, follow: 3, unfollow: 4, leave: 5 };
const KINDS: readonly SampleKind[] = ['exchange', 'answer', 'follow', 'unfollow', 'leave'];
/** Kinds that carry no entries. */
const NO_ENTRIES: ReadonlySet<SampleKind> = new Set(['follow', 'unfollow', 'leave']);

export interface SampleEntry {
  readonly id: string;
  /** How to reach it (multiaddr text); empty on transports that need none. */
  readonly addresses: readonly string[];
}

export interface SampleMessage {
  readonly kind: SampleKind;
  readonly taskId: string;
  readonly fingerprint: string;
  readonly entries: readonly SampleEntry[];
  /** Kind 'leave' only (required there): the sender's last published seq (0: it published nothing). */
  readonly lastSeq?: number;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

function checkEntry(e: SampleEntry): void {
  if (!PEER_ID_PATTERN.test(e.id)) throw new RangeError(`peer id ${JSON.stringify(e.id)} is not 1-128 of A-Za-z0-9._-`);
  if (e.addresses.length > MAX_ADDRESSES) throw new RangeError(`more than ${MAX_ADDRESSES} addresses for ${e.id}`);
  for (const a of e.addresses) {
    if (!ADDRESS_PATTERN.test(a)) throw new RangeError(`address ${JSON.stringify(a)} is not a multiaddr text`);
  }
}

/** Encodes a message; throws RangeError on fields outside the protocol's limits. */
export function encodeSampleMessage(m: SampleMessage): Uint8Array {
  checkTaskId(m.taskId);
  if (m.entries.length > MAX_WIRE_ENTRIES) throw new RangeError(`more than ${MAX_WIRE_ENTRIES} entries`);
  if (NO_ENTRIES.has(m.kind) && m.entries.length > 0) {
    throw new RangeError(`a ${m.kind} message carries no entries`);
  }
  const leave = m.kind === 'leave';
  if (leave !== (m.lastSeq !== undefined)) throw new RangeError('lastSeq is for a leave message, and required there');
  if (leave && !(Number.isInteger(m.lastSeq) && (m.lastSeq as number) >= 0 && (m.lastSeq as number) <= 0xffffffff)) {
    throw new RangeError(`lastSeq ${String(m.lastSeq)} is not a uint32`);
  }
  let size = 4 + 1 + 1 + 1 + m.taskId.length + 4 + 1 + (leave ? 4 : 0);
  for (const e of m.entries) {
    checkEntry(e);
    size += 1 + e.id.length + 1 + e.addresses.reduce((n, a) => n + 2 + a.length, 0);
  }
  const w = new ByteWriter(size);
  w.put(SAMPLE_MAGIC);
  w.u8(FORMAT_VERSION);
  w.u8(KIND_IDS[m.kind]);
  w.u8(m.taskId.length);
  w.put(ascii(m.taskId));
  w.u32(fingerprintToWord(m.fingerprint));
  w.u8(m.entries.length);
  for (const e of m.entries) {
    w.u8(e.id.length);
    w.put(ascii(e.id));
    w.u8(e.addresses.length);
    for (const a of e.addresses) {
      w.u16(a.length);
      w.put(ascii(a));
    }
  }
  if (leave) w.u32(m.lastSeq as number);
  return w.done();
}

const text = (b: Uint8Array): string => String.fromCharCode(...b);

/** Decodes a message; throws DecodeError ('too-large', 'undecodable', 'bad-version'). */
export function decodeSampleMessage(bytes: Uint8Array): SampleMessage {
  if (bytes.byteLength > MAX_SAMPLE_MESSAGE_BYTES) {
    fail('too-large', `${bytes.byteLength} bytes > ${MAX_SAMPLE_MESSAGE_BYTES}`);
  }
  const r = new ByteReader(bytes);
  for (let i = 0; i < SAMPLE_MAGIC.length; i++) {
    if (r.u8('magic') !== SAMPLE_MAGIC[i]) fail('undecodable', 'bad magic: not a sampling message');
  }
  const version = r.u8('version');
  if (version !== FORMAT_VERSION) fail('bad-version', `sampling message version ${version}`);
  const kindId = r.u8('kind');
  const kind = KINDS[kindId - 1];
  if (kind === undefined) fail('undecodable', `unknown sampling message kind ${kindId}`);
  const taskId = text(r.take(r.u8('task id length'), 'task id'));
  if (!TASK_ID_PATTERN.test(taskId)) fail('undecodable', `task id is not ${TASK_ID_RULE}`);
  const fingerprint = wordToFingerprint(r.u32('fingerprint'));
  const count = r.u8('entry count');
  if (count > MAX_WIRE_ENTRIES) fail('undecodable', `${count} entries > ${MAX_WIRE_ENTRIES}`);
  if (NO_ENTRIES.has(kind) && count > 0) fail('undecodable', `a ${kind} with ${count} entries`);
  const entries: SampleEntry[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const id = text(r.take(r.u8('peer id length'), 'peer id'));
    if (!PEER_ID_PATTERN.test(id)) fail('undecodable', `entry ${i}: peer id is not 1-128 of A-Za-z0-9._-`);
    if (seen.has(id)) fail('undecodable', `entry ${i}: peer id ${id} listed twice`);
    seen.add(id);
    const n = r.u8('address count');
    if (n > MAX_ADDRESSES) fail('undecodable', `entry ${i}: ${n} addresses > ${MAX_ADDRESSES}`);
    const addresses: string[] = [];
    for (let a = 0; a < n; a++) {
      const length = r.u16('address length');
      if (length > MAX_ADDRESS_LENGTH) fail('undecodable', `entry ${i}: address of ${length} bytes`);
      const address = text(r.take(length, 'address'));
      if (!ADDRESS_PATTERN.test(address)) fail('undecodable', `entry ${i}: address is not a multiaddr text`);
      addresses.push(address);
    }
    entries.push({ id, addresses });
  }
  const lastSeq = kind === 'leave' ? r.u32('last seq') : undefined;
  r.end('sampling message');
  return lastSeq === undefined
    ? { kind, taskId, fingerprint, entries }
    : { kind, taskId, fingerprint, entries, lastSeq };
}

export type SampleCheck =
  | { readonly ok: true; readonly message: SampleMessage }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string };

/** Decode and match against our task. Never throws on bad input. */
export function checkSampleMessage(bytes: Uint8Array, schema: TaskSchema): SampleCheck {
  try {
    const message = decodeSampleMessage(bytes);
    if (message.taskId !== schema.taskId) return { ok: false, reason: 'wrong-task', detail: message.taskId };
    if (message.fingerprint !== schema.fingerprint) {
      return { ok: false, reason: 'wrong-fingerprint', detail: message.fingerprint };
    }
    return { ok: true, message };
  } catch (err) {
    if (err instanceof DecodeError) return { ok: false, reason: err.reason, detail: err.message };
    throw err;
  }
}
