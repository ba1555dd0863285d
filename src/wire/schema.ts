/**
 * What a receiver expects of every update on a task: the task id, its own model's layer
 * layout, and the task fingerprint. Built once per task so per-message checks compare
 * integers, not strings.
 *
 * The fingerprint covers exactly what must match for two peers to exchange updates: the
 * task id, the architecture (names and shapes of the exchanged layers, which also pin the
 * input shape, the classes and which layers are trained), the seed of the common initial
 * model, and the codec family. Settings each device may choose for itself (batch size,
 * learning rate, local steps, merge strategy, top-k fraction) are left out on purpose:
 * peers that differ only there still merge each other's models.
 */
import type { Weights } from '../model/weights.ts';
import { type CodecSpec, codecFamily } from './codec-spec.ts';
import { TASK_ID_PATTERN, TASK_ID_RULE } from './constants.ts';

export interface LayerSchema {
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
}

export interface TaskSchema {
  readonly taskId: string;
  /** ASCII bytes of the task id, as they appear on the wire. */
  readonly taskIdBytes: Uint8Array;
  /** taskFingerprint() of the task, 8 hex chars. */
  readonly fingerprint: string;
  /** The same fingerprint as the uint32 carried on the wire. */
  readonly fingerprintWord: number;
  readonly layers: readonly LayerSchema[];
}

/** What the fingerprint covers; see the header. */
export interface TaskIdentity {
  readonly taskId: string;
  /** The exchanged layers (names and shapes are read, values are not). */
  readonly layout: Weights;
  /** Seed of the common initial model. */
  readonly modelSeed: number;
  /** The task's delta codec; only its family (codecFamily) is covered. */
  readonly codec: CodecSpec;
  /** What the layout does not pin of the architecture (a tfjs topology's digest); absent for built-in models. */
  readonly architecture?: string;
}

export function checkTaskId(taskId: string): void {
  if (!TASK_ID_PATTERN.test(taskId)) throw new RangeError(`task id "${taskId}" must be ${TASK_ID_RULE}`);
}

export function fingerprintToWord(fp: string): number {
  if (!/^[0-9a-f]{8}$/.test(fp)) throw new RangeError(`fingerprint "${fp}" is not 8 lowercase hex digits`);
  return Number.parseInt(fp, 16) >>> 0;
}

export function wordToFingerprint(word: number): string {
  return (word >>> 0).toString(16).padStart(8, '0');
}

/** FNV-1a 32-bit over the identity's canonical text, as 8 hex chars. */
export function taskFingerprint(identity: TaskIdentity): string {
  const layout = identity.layout.map((l) => `${l.name}:${l.shape.join('x')}`).join(';');
  const parts = [identity.taskId, layout, String(identity.modelSeed), codecFamily(identity.codec)];
  // Appended only when present, so built-in models keep their fingerprints.
  if (identity.architecture !== undefined) parts.push(identity.architecture);
  const text = parts.join('\n');
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

export function taskSchema(identity: TaskIdentity): TaskSchema {
  const { taskId, layout } = identity;
  checkTaskId(taskId);
  if (!(Number.isSafeInteger(identity.modelSeed) && identity.modelSeed >= 0)) {
    throw new RangeError(`model seed ${identity.modelSeed} is not an integer >= 0`);
  }
  const fp = taskFingerprint(identity);
  return {
    taskId,
    taskIdBytes: new TextEncoder().encode(taskId),
    fingerprint: fp,
    fingerprintWord: fingerprintToWord(fp),
    layers: layout.map((l) => ({ name: l.name, shape: [...l.shape], size: l.values.length })),
  };
}
