/** Shared by the merge-scoring tests (linear-input, public-rows): a throwaway trainer, noisy copies. */
import type { Rng } from '../../src/data/rng.ts';
import { buildModel, type Model } from '../../src/model/model.ts';
import type { ModelSpec } from '../../src/model/spec.ts';
import { mapLayers, type Weights } from '../../src/model/weights.ts';
import { Trainer } from '../../src/train/trainer.ts';

/** Runs `fn` with a seeded 10-class model and its Trainer, freed afterwards. */
export function withTrainer<T>(
  spec: ModelSpec,
  options: {
    readonly featureShape: readonly number[];
    readonly trainable: 'all' | 'head';
    readonly evalBatchSize: number;
  },
  fn: (t: Trainer, m: Model) => T,
): T {
  const model = buildModel(spec, options.featureShape, 10, 7);
  const trainer = new Trainer(model, { trainable: options.trainable, seed: 7, evalBatchSize: options.evalBatchSize });
  try {
    return fn(trainer, model);
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/** w plus Gaussian noise of standard deviation sigma. */
export function noisy(w: Weights, sigma: number, rng: Rng): Weights {
  return mapLayers(w, (l) => Float32Array.from(l.values, (v) => v + sigma * rng.normal()));
}
