/**
 * Messages between ParallelTraining (main thread) and its replica workers, with validators
 * for everything that crosses the thread boundary (the training pool's, node/train-pool).
 * Per-step gradients do not travel as messages: they go through the shared exchange buffers.
 */
import type { Dataset } from '../../src/data/dataset.ts';
import { type ModelSpec, parseModelSpec } from '../../src/model/spec.ts';
import type { Weights } from '../../src/model/weights.ts';
import type { BackendChoice } from '../../src/train/backend.ts';
import type { TrainAmount, TrainerOptions, TrainProgress, TrainResult } from '../../src/train/trainer.ts';
import {
  parseAmount,
  parseDataset,
  parseId,
  parseLayers,
  parseRecord,
  parseShape,
  parseString,
  parseTrainResult,
  protocolFail,
} from '../train-pool/messages.ts';
import type { ExchangeBuffers } from './exchange.ts';

const BACKENDS: readonly BackendChoice[] = ['wasm', 'cpu', 'auto'];

/** What a replica worker starts from (its workerData). */
export interface ReplicaInit {
  readonly backend: BackendChoice;
  readonly rank: number;
  readonly buffers: ExchangeBuffers;
  readonly spec: ModelSpec;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  /** The options of the main thread's Trainer (same seed: same batch order on every replica). */
  readonly options: TrainerOptions;
  /** Every layer of the model, so each replica starts from the same model. */
  readonly weights: Weights;
}

/** Main thread -> replica. */
export type ReplicaRequest = {
  readonly kind: 'train';
  readonly id: number;
  /** The layers training changes (Trainer.trainedLayers) of the main thread's model now. */
  readonly layers: Weights;
  readonly amount: TrainAmount;
  /** A training set in SharedArrayBuffers when it differs from the last one sent (sharedDataset). */
  readonly data?: Dataset;
};

/** Replica -> main thread. */
export type ReplicaReply =
  | { readonly kind: 'ready'; readonly backend: string }
  /** From replica 0 only, every few steps. */
  | { readonly kind: 'progress'; readonly id: number; readonly progress: TrainProgress }
  | { readonly kind: 'trained'; readonly id: number; readonly layers: Weights; readonly result: TrainResult }
  /** Request `id` failed; id null: the replica itself failed (e.g. backend start). */
  | { readonly kind: 'failed'; readonly id: number | null; readonly message: string };

function num(v: unknown, what: string): number {
  if (typeof v !== 'number') protocolFail(`${what} must be a number`);
  return v;
}

export function parseReplicaInit(raw: unknown): ReplicaInit {
  const m = parseRecord(raw, 'replica init');
  if (!BACKENDS.includes(m.backend as BackendChoice)) protocolFail(`unknown backend ${JSON.stringify(m.backend)}`);
  const b = parseRecord(m.buffers, 'replica init.buffers');
  if (!(b.values instanceof SharedArrayBuffer && b.sync instanceof SharedArrayBuffer))
    protocolFail('replica init.buffers must be SharedArrayBuffers');
  let spec: ModelSpec;
  try {
    spec = parseModelSpec(m.spec, 'replica init.spec');
  } catch (err) {
    return protocolFail((err as Error).message);
  }
  return {
    backend: m.backend as BackendChoice,
    rank: parseId(m.rank, 'replica init.rank'),
    buffers: {
      ranks: parseId(b.ranks, 'replica init.buffers.ranks'),
      size: parseId(b.size, 'replica init.buffers.size'),
      syncEvery: parseId(b.syncEvery, 'replica init.buffers.syncEvery'),
      values: b.values,
      sync: b.sync,
    },
    spec,
    inputShape: parseShape(m.inputShape, 'replica init.inputShape'),
    numClasses: parseId(m.numClasses, 'replica init.numClasses'),
    // Values are checked by the Trainer constructor; here only that it is an object.
    options: parseRecord(m.options, 'replica init.options') as TrainerOptions,
    weights: parseLayers(m.weights, 'replica init.weights'),
  };
}

export function parseReplicaRequest(raw: unknown): ReplicaRequest {
  const m = parseRecord(raw, 'request');
  if (m.kind !== 'train') return protocolFail(`unknown request kind ${JSON.stringify(m.kind)}`);
  return {
    kind: 'train',
    id: parseId(m.id, 'train'),
    layers: parseLayers(m.layers, 'train.layers'),
    amount: parseAmount(m.amount, 'train.amount'),
    ...(m.data === undefined ? {} : { data: parseDataset(m.data, 'train.data') }),
  };
}

function progress(v: unknown, what: string): TrainProgress {
  const p = parseRecord(v, what);
  return {
    epoch: num(p.epoch, `${what}.epoch`),
    step: num(p.step, `${what}.step`),
    totalSteps: num(p.totalSteps, `${what}.totalSteps`),
    samples: num(p.samples, `${what}.samples`),
    loss: num(p.loss, `${what}.loss`),
    elapsedMs: num(p.elapsedMs, `${what}.elapsedMs`),
  };
}

export function parseReplicaReply(raw: unknown): ReplicaReply {
  const m = parseRecord(raw, 'reply');
  switch (m.kind) {
    case 'ready':
      return { kind: 'ready', backend: parseString(m.backend, 'ready.backend') };
    case 'progress':
      return { kind: 'progress', id: parseId(m.id, 'progress'), progress: progress(m.progress, 'progress.progress') };
    case 'trained':
      return {
        kind: 'trained',
        id: parseId(m.id, 'trained'),
        layers: parseLayers(m.layers, 'trained.layers'),
        result: parseTrainResult(m.result, 'trained.result'),
      };
    case 'failed':
      return {
        kind: 'failed',
        id: m.id === null ? null : parseId(m.id, 'failed'),
        message: typeof m.message === 'string' ? m.message : 'unknown replica error',
      };
    default:
      return protocolFail(`unknown reply kind ${JSON.stringify(m.kind)}`);
  }
}
