/**
 * The training pool's wire format between the main thread and its workers: discriminated
 * unions, and validators that check every message crossing the thread boundary (a bug on
 * one side must surface as a clear error on the other, not as NaN weights).
 */
import { assertDataset, type Dataset } from '../../src/data/dataset.ts';
import { type RngState, restoreRng, rngStateProblem } from '../../src/data/rng.ts';
import { type ModelSpec, parseModelSpec } from '../../src/model/spec.ts';
import { type Layer, sizeOfShape, type Weights } from '../../src/model/weights.ts';
import type { TrainAmount, TrainerOptions, TrainerState, TrainResult } from '../../src/train/trainer.ts';

/**
 * A peer as every worker needs it: its model, trainer options and training set. Workers
 * hold no peer's weights: each train request brings the peer's whole state (PeerState).
 */
export interface Registration {
  readonly peer: string;
  readonly spec: ModelSpec;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly options: TrainerOptions;
  /** The peer's training set, backed by SharedArrayBuffers (sent once, never copied): use sharedDataset(). */
  readonly data: Dataset;
}

/**
 * What a peer's training starts from and hands back (a TrainerState as plain data): every
 * layer, the SGD momentum of the trained variables (null: none yet) and the position of
 * its batch-order generator. Any worker can train any peer from it.
 */
export interface PeerState {
  readonly weights: Weights;
  readonly velocity: readonly Float32Array[] | null;
  readonly batches: RngState;
}

/** Main thread -> worker. `id` pairs a request with its reply. */
export type PoolRequest =
  | ({ readonly kind: 'register'; readonly id: number } & Registration)
  | {
      readonly kind: 'train';
      readonly id: number;
      readonly peer: string;
      /** The peer's state after its last merge. */
      readonly state: PeerState;
      readonly amount: TrainAmount;
    }
  /** Stop training request `id` at its next yield; it still replies with the steps done. */
  | { readonly kind: 'abort'; readonly id: number };

/** Worker -> main thread. */
export type PoolReply =
  | { readonly kind: 'ready'; readonly backend: string }
  | { readonly kind: 'registered'; readonly id: number }
  | { readonly kind: 'trained'; readonly id: number; readonly state: PeerState; readonly result: TrainResult }
  /** Request `id` failed; id null: the worker itself failed (e.g. backend init). */
  | { readonly kind: 'failed'; readonly id: number | null; readonly message: string };

/** A message that does not fit the protocol (a bug, reported as such). */
export class PoolProtocolError extends Error {
  override readonly name = 'PoolProtocolError';
}

function fail(what: string): never {
  throw new PoolProtocolError(`training pool: bad message: ${what}`);
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${what} is not an object`);
  return v as Record<string, unknown>;
}

function id(v: unknown, what: string): number {
  if (!(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) fail(`${what}.id ${String(v)}`);
  return v;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') fail(`${what} must be a non-empty string`);
  return v;
}

function finite(v: unknown, what: string): number {
  // NaN is allowed: the loss of an empty training set is NaN.
  if (typeof v !== 'number' || v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY)
    fail(`${what} must be a number`);
  return v;
}

function shape(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((d) => Number.isInteger(d) && d >= 1)) fail(`${what} must be positive integers`);
  return v as number[];
}

function layers(v: unknown, what: string): Weights {
  if (!Array.isArray(v)) fail(`${what} must be a list of layers`);
  return v.map((item, i): Layer => {
    const l = record(item, `${what}[${i}]`);
    const name = str(l.name, `${what}[${i}].name`);
    const s = shape(l.shape, `${what}[${i}].shape`);
    if (!(l.values instanceof Float32Array)) fail(`${what}[${i}].values must be a Float32Array`);
    if (l.values.length !== sizeOfShape(s)) fail(`${what}[${i}] (${name}): ${l.values.length} values for [${s}]`);
    return { name, shape: s, values: l.values };
  });
}

function rngState(v: unknown, what: string): RngState {
  const problem = rngStateProblem(v);
  if (problem !== undefined) fail(`${what}: ${problem}`);
  return v as RngState;
}

function peerState(v: unknown, what: string): PeerState {
  const s = record(v, what);
  let velocity: Float32Array[] | null = null;
  if (s.velocity !== null) {
    if (!(Array.isArray(s.velocity) && s.velocity.every((a) => a instanceof Float32Array)))
      fail(`${what}.velocity must be null or a list of Float32Array`);
    velocity = s.velocity as Float32Array[];
  }
  return { weights: layers(s.weights, `${what}.weights`), velocity, batches: rngState(s.batches, `${what}.batches`) };
}

function amount(v: unknown, what: string): TrainAmount {
  const a = record(v, what);
  if (typeof a.steps === 'number' && Number.isInteger(a.steps) && a.steps >= 0) return { steps: a.steps };
  if (typeof a.epochs === 'number' && Number.isFinite(a.epochs) && a.epochs >= 0) return { epochs: a.epochs };
  return fail(`${what} must be {steps} or {epochs}`);
}

function dataset(v: unknown, what: string): Dataset {
  const d = record(v, what);
  if (!(d.x instanceof Float32Array && d.y instanceof Uint8Array)) fail(`${what}: x/y must be Float32Array/Uint8Array`);
  const data: Dataset = {
    x: d.x,
    y: d.y,
    featureShape: shape(d.featureShape, `${what}.featureShape`),
    numClasses: finite(d.numClasses, `${what}.numClasses`),
  };
  try {
    assertDataset(data, what);
  } catch (err) {
    fail((err as Error).message);
  }
  return data;
}

function trainerOptions(v: unknown, what: string): TrainerOptions {
  // Values are checked by the Trainer constructor; here only that it is an object.
  return record(v, what) as TrainerOptions;
}

export function parseRequest(raw: unknown): PoolRequest {
  const m = record(raw, 'request');
  switch (m.kind) {
    case 'register': {
      let spec: ModelSpec;
      try {
        spec = parseModelSpec(m.spec, 'register.spec');
      } catch (err) {
        return fail((err as Error).message);
      }
      return {
        kind: 'register',
        id: id(m.id, 'register'),
        peer: str(m.peer, 'register.peer'),
        spec,
        inputShape: shape(m.inputShape, 'register.inputShape'),
        numClasses: finite(m.numClasses, 'register.numClasses'),
        options: trainerOptions(m.options, 'register.options'),
        data: dataset(m.data, 'register.data'),
      };
    }
    case 'train':
      return {
        kind: 'train',
        id: id(m.id, 'train'),
        peer: str(m.peer, 'train.peer'),
        state: peerState(m.state, 'train.state'),
        amount: amount(m.amount, 'train.amount'),
      };
    case 'abort':
      return { kind: 'abort', id: id(m.id, 'abort') };
    default:
      return fail(`unknown request kind ${JSON.stringify(m.kind)}`);
  }
}

function trainResult(v: unknown, what: string): TrainResult {
  const r = record(v, what);
  return {
    steps: finite(r.steps, `${what}.steps`),
    samples: finite(r.samples, `${what}.samples`),
    loss: finite(r.loss, `${what}.loss`),
    elapsedMs: finite(r.elapsedMs, `${what}.elapsedMs`),
  };
}

export function parseReply(raw: unknown): PoolReply {
  const m = record(raw, 'reply');
  switch (m.kind) {
    case 'ready':
      return { kind: 'ready', backend: str(m.backend, 'ready.backend') };
    case 'registered':
      return { kind: 'registered', id: id(m.id, 'registered') };
    case 'trained':
      return {
        kind: 'trained',
        id: id(m.id, 'trained'),
        state: peerState(m.state, 'trained.state'),
        result: trainResult(m.result, 'trained.result'),
      };
    case 'failed':
      return {
        kind: 'failed',
        id: m.id === null ? null : id(m.id, 'failed'),
        message: typeof m.message === 'string' ? m.message : 'unknown worker error',
      };
    default:
      return fail(`unknown reply kind ${JSON.stringify(m.kind)}`);
  }
}

/** Fresh copies of the layers' values and the buffers to transfer (the copies are ours to give away). */
export function transferable(w: Weights): { layers: Weights; transfer: ArrayBuffer[] } {
  const out = w.map((l) => ({ name: l.name, shape: [...l.shape], values: l.values.slice() }));
  return { layers: out, transfer: out.map((l) => l.values.buffer) };
}

/** A copy of `s` whose arrays are ours to give away, and their buffers to transfer. */
export function transferableState(s: PeerState): { state: PeerState; transfer: ArrayBuffer[] } {
  const { layers: weights, transfer } = transferable(s.weights);
  const velocity = s.velocity === null ? null : s.velocity.map((a) => a.slice());
  if (velocity !== null) for (const a of velocity) transfer.push(a.buffer);
  return { state: { weights, velocity, batches: s.batches }, transfer };
}

/** A Trainer's state as this format carries it. */
export function peerStateOf(s: TrainerState): PeerState {
  return { weights: s.weights, velocity: s.velocity ?? null, batches: s.batches.state() };
}

/** A carried state as a Trainer takes it (importState). */
export function trainerStateOf(s: PeerState): TrainerState {
  return { weights: s.weights, velocity: s.velocity ?? undefined, batches: restoreRng(s.batches) };
}

/** The validators of this format, for the data-parallel group's messages (node/data-parallel). */
export {
  amount as parseAmount,
  dataset as parseDataset,
  fail as protocolFail,
  id as parseId,
  layers as parseLayers,
  record as parseRecord,
  shape as parseShape,
  str as parseString,
  trainResult as parseTrainResult,
};
