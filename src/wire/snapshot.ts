/**
 * The snapshot protocol (/meshfl/1/snapshot): a peer that detected a gap asks the sender for
 * its current public copy. Request = magic, version, task id, fingerprint. Response = one
 * keyframe update message (fp32) or zero bytes when the responder has nothing to offer.
 */
import { ByteReader, ByteWriter } from './bytes.ts';
import { FORMAT_VERSION, SNAPSHOT_REQUEST_MAGIC, TASK_ID_PATTERN, TASK_ID_RULE } from './constants.ts';
import { DecodeError, fail, type RejectReason } from './errors.ts';
import { checkTaskId, fingerprintToWord, type TaskSchema, wordToFingerprint } from './schema.ts';

export interface SnapshotRequest {
  readonly taskId: string;
  readonly fingerprint: string;
}

/** magic(4) version(1) taskIdLength(1) taskId fingerprint(4). */
export function encodeSnapshotRequest(request: SnapshotRequest): Uint8Array {
  checkTaskId(request.taskId);
  const task = new TextEncoder().encode(request.taskId);
  const w = new ByteWriter(4 + 1 + 1 + task.byteLength + 4);
  w.put(SNAPSHOT_REQUEST_MAGIC);
  w.u8(FORMAT_VERSION);
  w.u8(task.byteLength);
  w.put(task);
  w.u32(fingerprintToWord(request.fingerprint));
  return w.done();
}

/** Throws DecodeError ('undecodable' or 'bad-version'). */
export function decodeSnapshotRequest(bytes: Uint8Array): SnapshotRequest {
  const r = new ByteReader(bytes);
  for (let i = 0; i < SNAPSHOT_REQUEST_MAGIC.length; i++) {
    if (r.u8('magic') !== SNAPSHOT_REQUEST_MAGIC[i]) fail('undecodable', 'bad magic: not a snapshot request');
  }
  const version = r.u8('version');
  if (version !== FORMAT_VERSION) fail('bad-version', `snapshot request version ${version}`);
  const taskId = String.fromCharCode(...r.take(r.u8('task id length'), 'task id'));
  if (!TASK_ID_PATTERN.test(taskId)) fail('undecodable', `task id is not ${TASK_ID_RULE}`);
  const fingerprint = wordToFingerprint(r.u32('fingerprint'));
  r.end('snapshot request');
  return { taskId, fingerprint };
}

export type SnapshotRequestCheck =
  | { readonly ok: true; readonly request: SnapshotRequest }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string };

/** Responder side: decode and match against our task. Never throws on bad input. */
export function checkSnapshotRequest(bytes: Uint8Array, schema: TaskSchema): SnapshotRequestCheck {
  try {
    const request = decodeSnapshotRequest(bytes);
    if (request.taskId !== schema.taskId) return { ok: false, reason: 'wrong-task', detail: request.taskId };
    if (request.fingerprint !== schema.fingerprint) {
      return { ok: false, reason: 'wrong-fingerprint', detail: request.fingerprint };
    }
    return { ok: true, request };
  } catch (err) {
    if (err instanceof DecodeError) return { ok: false, reason: err.reason, detail: err.message };
    throw err;
  }
}
