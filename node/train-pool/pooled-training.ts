/**
 * A peer's local training through a TrainingPool: what Peer calls as `training`. The peer
 * keeps its own Trainer, which holds its whole state (weights, momentum, batch order) for
 * evaluation and merging; each round that state goes to the first free worker and the
 * trained state comes back into the Trainer. So a reset of the Trainer's momentum
 * (momentumAfterMerge 'reset', a diverged step) holds for pooled training too.
 */
import type { Dataset } from '../../src/data/dataset.ts';
import type { LocalTraining } from '../../src/peer/peer.ts';
import type { StatefulTrainer, TrainAmount, TrainerOptions, TrainResult } from '../../src/train/trainer.ts';
import { peerStateOf, trainerStateOf } from './messages.ts';
import type { TrainingPool } from './pool.ts';
import { sharedDataset } from './shared-dataset.ts';

export class PooledTraining implements LocalTraining {
  readonly #pool: TrainingPool;
  readonly #peer: string;
  readonly #trainer: StatefulTrainer;
  readonly #data: Dataset;

  private constructor(pool: TrainingPool, peer: string, trainer: StatefulTrainer, data: Dataset) {
    this.#pool = pool;
    this.#peer = peer;
    this.#trainer = trainer;
    this.#data = data;
  }

  /**
   * Registers `peer` with the pool: every worker learns its model and `options` (those that
   * built `trainer`) and receives `data` once, shared.
   */
  static async register(
    pool: TrainingPool,
    peer: string,
    trainer: StatefulTrainer,
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
      data: sharedDataset(data),
    });
    return new PooledTraining(pool, peer, trainer, data);
  }

  async trainAsync(data: Dataset, amount: TrainAmount, options: { signal?: AbortSignal } = {}): Promise<TrainResult> {
    // The worker trains on the set sent at registration; another one would be silently ignored.
    if (data !== this.#data) throw new Error(`pooled training of ${this.#peer}: not the registered training set`);
    const own = peerStateOf(this.#trainer.exportState());
    const { state, result } = await this.#pool.train(this.#peer, own, amount, options.signal);
    this.#trainer.importState(trainerStateOf(state));
    return result;
  }
}
