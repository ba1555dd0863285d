/**
 * A peer's local training through a TrainingPool: what Peer calls as `training`. The peer
 * keeps its own Trainer for evaluation and merging; each round the layers training changes
 * (Trainer.trainedLayers: the exchanged ones plus local BatchNorm state) go to
 * the worker hosting it and the trained ones come back into that Trainer.
 */
import type { Dataset } from '../../src/data/dataset.ts';
import type { LocalTraining } from '../../src/peer/peer.ts';
import type { TrainAmount, Trainer, TrainerOptions, TrainResult } from '../../src/train/trainer.ts';
import type { TrainingPool } from './pool.ts';
import { sharedDataset } from './shared-dataset.ts';

export class PooledTraining implements LocalTraining {
  readonly #pool: TrainingPool;
  readonly #peer: string;
  readonly #trainer: Trainer;
  readonly #data: Dataset;
  readonly #trained: ReadonlySet<string>;

  private constructor(pool: TrainingPool, peer: string, trainer: Trainer, data: Dataset) {
    this.#pool = pool;
    this.#peer = peer;
    this.#trainer = trainer;
    this.#data = data;
    this.#trained = trainer.trainedLayers();
  }

  /**
   * Registers `peer` with the pool: its worker builds a Trainer with `options` (those that
   * built `trainer`) from `trainer`'s current weights, and receives `data` once, shared.
   */
  static async register(
    pool: TrainingPool,
    peer: string,
    trainer: Trainer,
    options: TrainerOptions,
    data: Dataset,
  ): Promise<PooledTraining> {
    const m = trainer.model;
    await pool.register({
      peer,
      spec: m.spec,
      inputShape: m.inputShape,
      numClasses: m.numClasses,
      options,
      weights: trainer.getWeights(),
      data: sharedDataset(data),
    });
    return new PooledTraining(pool, peer, trainer, data);
  }

  async trainAsync(data: Dataset, amount: TrainAmount, options: { signal?: AbortSignal } = {}): Promise<TrainResult> {
    // The worker trains on the set sent at registration; another one would be silently ignored.
    if (data !== this.#data) throw new Error(`pooled training of ${this.#peer}: not the registered training set`);
    const own = this.#trainer.getWeights().filter((l) => this.#trained.has(l.name));
    const { layers, result } = await this.#pool.train(this.#peer, own, amount, options.signal);
    this.#trainer.setLayers(layers);
    return result;
  }
}
