/**
 * What a receiver expects of every update on a task: the task id and its own model's
 * architecture. Built once per task so per-message checks compare integers, not strings.
 */
import { fingerprint, type Weights } from '../model/weights.ts';
import { TASK_ID_PATTERN } from './constants.ts';

export interface LayerSchema {
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
}

export interface TaskSchema {
  readonly taskId: string;
  /** ASCII bytes of the task id, as they appear on the wire. */
  readonly taskIdBytes: Uint8Array;
  /** fingerprint() of the model, 8 hex chars. */
  readonly fingerprint: string;
  /** The same fingerprint as the uint32 carried on the wire. */
  readonly fingerprintWord: number;
  readonly layers: readonly LayerSchema[];
}

export function checkTaskId(taskId: string): void {
  if (!TASK_ID_PATTERN.test(taskId)) {
    throw new RangeError(`task id "${taskId}" must be 1-64 characters from A-Z a-z 0-9 . _ -`);
  }
}

export function fingerprintToWord(fp: string): number {
  if (!/^[0-9a-f]{8}$/.test(fp)) throw new RangeError(`fingerprint "${fp}" is not 8 lowercase hex digits`);
  return Number.parseInt(fp, 16) >>> 0;
}

export function wordToFingerprint(word: number): string {
  return (word >>> 0).toString(16).padStart(8, '0');
}

export function taskSchema(taskId: string, model: Weights): TaskSchema {
  checkTaskId(taskId);
  const fp = fingerprint(model);
  return {
    taskId,
    taskIdBytes: new TextEncoder().encode(taskId),
    fingerprint: fp,
    fingerprintWord: fingerprintToWord(fp),
    layers: model.map((l) => ({ name: l.name, shape: [...l.shape], size: l.values.length })),
  };
}
