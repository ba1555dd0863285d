/**
 * A data-parallel replica: its own tfjs backend (with meshfl's wasm kernels), a copy of the
 * model and a Trainer that exchanges gradients with the other replicas every step, or its
 * weights every few steps (local SGD) (./exchange.ts). Train requests run synchronously,
 * one at a time: the steps are the same on every replica, and the group stops (after an
 * abort) after the same step everywhere.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Dataset } from '../../src/data/dataset.ts';
import { buildModel, setWeights } from '../../src/model/model.ts';
import { prepareModel } from '../../src/model/tfjs-model.ts';
import { initBackend } from '../../src/train/backend.ts';
import { Trainer, type TrainProgress, type TrainResult } from '../../src/train/trainer.ts';
import { transferable } from '../train-pool/messages.ts';
import { SharedExchange } from './exchange.ts';
import { parseReplicaInit, parseReplicaRequest, type ReplicaReply, type ReplicaRequest } from './messages.ts';

/** Replica 0 reports progress every this many steps (and at the last one). */
const PROGRESS_EVERY = 8;

const port = parentPort;
if (port === null) throw new Error('data-parallel replica started outside a worker thread');

function reply(m: ReplicaReply, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(m, transfer);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface Replica {
  readonly rank: number;
  readonly trainer: Trainer;
  readonly exchange: SharedExchange;
  readonly trained: ReadonlySet<string>;
  data: Dataset | undefined;
}

function train(replica: Replica, m: ReplicaRequest): void {
  const { trainer, exchange } = replica;
  if (m.data !== undefined) replica.data = m.data;
  const data = replica.data;
  if (data === undefined) throw new Error('no training set was sent to this replica');
  trainer.setLayers(m.layers);
  exchange.beginCall();
  const steps = trainer.steps(data, m.amount);
  let last: TrainProgress | undefined;
  let result: TrainResult;
  for (;;) {
    const next = steps.next();
    if (next.done) {
      result = next.value;
      break;
    }
    last = next.value;
    if (replica.rank === 0 && (last.step % PROGRESS_EVERY === 0 || last.step === last.totalSteps))
      reply({ kind: 'progress', id: m.id, progress: last });
    if (exchange.stopDecided) {
      // Every replica stops after this same step (the group decided at the barrier: every
      // step, or with local SGD at the synchronisation this step ended with).
      steps.return(undefined as unknown as TrainResult);
      result = { steps: last.step, samples: last.samples, loss: last.loss, elapsedMs: last.elapsedMs };
      break;
    }
  }
  const { layers, transfer } = transferable(trainer.getWeights().filter((l) => replica.trained.has(l.name)));
  reply({ kind: 'trained', id: m.id, layers, result }, transfer);
}

async function start(): Promise<Replica> {
  const init = parseReplicaInit(workerData);
  const active = await initBackend(init.backend);
  await prepareModel(init.spec);
  // The seed only fills the initial values; the sent weights replace them.
  const model = buildModel(init.spec, init.inputShape, init.numClasses, 0);
  try {
    setWeights(model, init.weights);
    const exchange = new SharedExchange(init.buffers, init.rank);
    const trainer = new Trainer(model, init.options, exchange);
    const size = trainer.exchangeSize(init.buffers.syncEvery);
    if (size !== init.buffers.size)
      throw new Error(`replica ${init.rank}: ${size} values to exchange, the group has ${init.buffers.size}`);
    reply({ kind: 'ready', backend: active });
    return { rank: init.rank, trainer, exchange, trained: trainer.trainedLayers(), data: undefined };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

try {
  const replica = await start();
  port.on('message', (raw: unknown) => {
    let m: ReplicaRequest;
    try {
      m = parseReplicaRequest(raw);
    } catch (err) {
      replica.exchange.fail();
      const rawId = (raw as { id?: unknown } | null)?.id;
      reply({ kind: 'failed', id: typeof rawId === 'number' ? rawId : null, message: message(err) });
      return;
    }
    try {
      train(replica, m);
    } catch (err) {
      // The others must not wait for this replica at the next barrier.
      replica.exchange.fail();
      reply({ kind: 'failed', id: m.id, message: `replica ${replica.rank}: ${message(err)}` });
    }
  });
} catch (err) {
  reply({ kind: 'failed', id: null, message: message(err) });
}
