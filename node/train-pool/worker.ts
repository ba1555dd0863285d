/**
 * A training-pool worker: initialises the same tfjs backend as the main thread (with
 * meshfl's wasm kernels) and knows every registered peer's model, options and (shared)
 * training set, but holds no peer's weights: a train request brings the peer's whole state
 * (weights, momentum, batch-order generator), which goes into one Trainer per kind of
 * model (like the main thread's ModelPool), and the reply takes the trained state back. So
 * any worker can train any peer, and the pool hands each request to whichever worker is
 * free. Train requests run one at a time, in arrival order; an abort stops the running
 * one at its next yield (the steps done are kept and returned, as in-process trainAsync does).
 */

import { parentPort, workerData } from 'node:worker_threads';
import type { Dataset } from '../../src/data/dataset.ts';
import { buildModel } from '../../src/model/model.ts';
import { prepareModel } from '../../src/model/tfjs-model.ts';
import { type BackendChoice, initBackend } from '../../src/train/backend.ts';
import { Trainer } from '../../src/train/trainer.ts';
import {
  type PoolReply,
  type PoolRequest,
  parseRequest,
  peerStateOf,
  trainerStateOf,
  transferableState,
} from './messages.ts';

interface Hosted {
  /** Key of the Trainer in `trainers` that trains this peer. */
  readonly model: string;
  readonly data: Dataset;
}

const port = parentPort;
if (port === null) throw new Error('training-pool worker started outside a worker thread');

const hosted = new Map<string, Hosted>();
/** One Trainer per kind of model and options (the seed aside: a peer brings its batch order). */
const trainers = new Map<string, Trainer>();
/** Abort controllers of train requests queued or running. */
const aborts = new Map<number, AbortController>();
/** Serialises train requests: one finishes (and replies) before the next starts. */
let queue: Promise<void> = Promise.resolve();

function reply(m: PoolReply, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(m, transfer);
}

function failed(id: number | null, err: unknown): void {
  reply({ kind: 'failed', id, message: err instanceof Error ? err.message : String(err) });
}

function register(m: Extract<PoolRequest, { kind: 'register' }>): void {
  // A peer registered again replaces its entry: the pool refuses duplicates itself, and a
  // registration that failed on another worker may be tried again.
  const key = JSON.stringify([m.spec, m.inputShape, m.numClasses, { ...m.options, seed: 0 }]);
  if (!trainers.has(key)) {
    // Built at registration, so bad options fail here. The seed only fills initial values.
    const model = buildModel(m.spec, m.inputShape, m.numClasses, 0);
    try {
      trainers.set(key, new Trainer(model, m.options));
    } catch (err) {
      model.dispose();
      throw err;
    }
  }
  hosted.set(m.peer, { model: key, data: m.data });
}

async function train(m: Extract<PoolRequest, { kind: 'train' }>, signal: AbortSignal): Promise<void> {
  const h = hosted.get(m.peer);
  const trainer = h === undefined ? undefined : trainers.get(h.model);
  if (h === undefined || trainer === undefined) throw new Error(`peer ${m.peer} is not registered with this worker`);
  trainer.importState(trainerStateOf(m.state));
  // Aborted while queued: nothing trained, the state is returned as it came.
  const result = signal.aborted
    ? { steps: 0, samples: 0, loss: Number.NaN, elapsedMs: 0 }
    : await trainer.trainAsync(h.data, m.amount, { signal });
  const { state, transfer } = transferableState(peerStateOf(trainer.exportState()));
  reply({ kind: 'trained', id: m.id, state, result }, transfer);
}

function onMessage(raw: unknown): void {
  let m: PoolRequest;
  try {
    m = parseRequest(raw);
  } catch (err) {
    const rawId = (raw as { id?: unknown } | null)?.id;
    failed(typeof rawId === 'number' ? rawId : null, err);
    return;
  }
  switch (m.kind) {
    case 'register':
      // On the queue: a tfjs model is prepared asynchronously (prepareModel), and the
      // peer's training requests must find it registered.
      queue = queue
        .then(async () => {
          await prepareModel(m.spec);
          register(m);
          reply({ kind: 'registered', id: m.id });
        })
        .catch((err: unknown) => failed(m.id, err));
      return;
    case 'train': {
      const abort = new AbortController();
      aborts.set(m.id, abort);
      queue = queue
        .then(() => train(m, abort.signal))
        .catch((err: unknown) => failed(m.id, err))
        .finally(() => aborts.delete(m.id));
      return;
    }
    case 'abort':
      aborts.get(m.id)?.abort();
      return;
    default: {
      const never: never = m;
      failed(null, new Error(`unhandled request ${JSON.stringify(never)}`));
    }
  }
}

const BACKENDS: readonly BackendChoice[] = ['wasm', 'cpu', 'auto'];
const backend = (workerData as { backend?: unknown } | null)?.backend;
try {
  if (!BACKENDS.includes(backend as BackendChoice)) throw new Error(`unknown backend ${JSON.stringify(backend)}`);
  const active = await initBackend(backend as BackendChoice);
  port.on('message', onMessage);
  reply({ kind: 'ready', backend: active });
} catch (err) {
  failed(null, err);
}
