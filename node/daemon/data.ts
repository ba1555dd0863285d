/**
 * The daemon's local data: the configured source loaded from disk, cut to this peer's
 * shard (a seeded partition every peer of the task computes the same way), plus an
 * evaluation set for the accuracy it reports.
 */
import { type Dataset, subset, type TrainTest } from '../../src/data/dataset.ts';
import { partitionDataset } from '../../src/data/partition.ts';
import { publicValidationSet, withPublicValidation } from '../../src/data/public-validation.ts';
import type { PeerData } from '../../src/peer/peer.ts';
import type { TaskSpec } from '../../src/peer/task.ts';
import { loadCsv, loadDataset, loadIdxDirectory } from '../datasets.ts';
import type { DatasetSource } from './config.ts';
import { DataError } from './data-error.ts';

export interface LoadedData extends PeerData {
  readonly evaluation: Dataset;
  /** Samples of the task's public validation set in the merge validation, or why none. */
  readonly publicValidation: number | { readonly off: string };
  readonly featureShape: readonly number[];
  readonly numClasses: number;
}

/** The data set to load: the joined task's named data set when the config names none. */
export function resolveSource(
  source: DatasetSource,
  task: TaskSpec | undefined,
): Exclude<DatasetSource, { kind: 'joined-task' }> {
  if (source.kind !== 'joined-task') return source;
  if (task === undefined) throw new DataError('dataset.kind: required (no joined task to take it from)');
  if (task.dataset === 'custom') {
    throw new DataError(
      `dataset.kind: the joined task ${task.taskId} trains on custom data (${task.inputShape.join('x')}, ${task.classes} classes): give dataset.kind idx or csv and its files`,
    );
  }
  return { ...source, kind: task.dataset };
}

function loadSource(source: Exclude<DatasetSource, { kind: 'joined-task' }>): TrainTest {
  switch (source.kind) {
    case 'mnist':
    case 'fashion-mnist':
    case 'synthetic':
      return loadDataset(source.kind);
    case 'idx':
      return loadIdxDirectory(source.dir);
    case 'csv': {
      const train = loadCsv(source.file);
      // Without a test file, accuracy is measured on this peer's validation split.
      return {
        train,
        test: source.testFile === undefined ? train : loadCsv(source.testFile, { numClasses: train.numClasses }),
      };
    }
    default: {
      const never: never = source;
      throw new DataError(`dataset: unhandled source ${JSON.stringify(never)}`);
    }
  }
}

function firstN(d: Dataset, n: number): Dataset {
  return n === 0 || n >= d.y.length
    ? d
    : subset(
        d,
        Uint32Array.from({ length: n }, (_, i) => i),
      );
}

export function loadPeerData(source: Exclude<DatasetSource, { kind: 'joined-task' }>): LoadedData {
  let all: TrainTest;
  try {
    all = loadSource(source);
  } catch (err) {
    throw new DataError(`dataset (${source.kind}): ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  const { shard } = source;
  const pool = firstN(all.train, shard.limit);
  let parts: ReturnType<typeof partitionDataset>;
  try {
    parts = partitionDataset(pool, shard.partition, {
      peers: shard.of,
      seed: shard.seed,
      validationPerClass: shard.validationPerClass,
    });
  } catch (err) {
    throw new DataError(`dataset.shard: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const part = parts[shard.index];
  if (!part || part.train.length === 0)
    throw new DataError(`dataset.shard: shard ${shard.index} of ${shard.of} holds no training samples`);
  const validation = subset(pool, part.validation.length > 0 ? part.validation : part.train);
  const csvWithoutTest = source.kind === 'csv' && source.testFile === undefined;
  const evaluation = csvWithoutTest ? validation : firstN(all.test, source.evaluationSamples);
  let merge = { validation, familiarClasses: part.familiarClasses };
  let publicValidation: LoadedData['publicValidation'] = { off: 'dataset.shard.publicValidationPerClass is 0' };
  if (csvWithoutTest) {
    publicValidation = { off: 'a CSV source without a test file has no public samples' };
  } else if (shard.publicValidationPerClass > 0) {
    // The evaluation set is the first evaluationSamples of the test split: keep them out.
    const evaluated = evaluation === all.test ? all.test.y.length : evaluation.y.length;
    const exclude = new Set(Array.from({ length: evaluated }, (_, i) => i));
    try {
      const pub = publicValidationSet(all.test, {
        perClass: shard.publicValidationPerClass,
        seed: shard.seed,
        exclude,
      });
      merge = withPublicValidation(validation, pub);
      publicValidation = pub.y.length;
    } catch (err) {
      // Too few test samples outside the evaluation set: own validation only (logged).
      publicValidation = { off: err instanceof Error ? err.message : String(err) };
    }
  }
  return {
    train: subset(pool, part.train),
    validation: merge.validation,
    familiarClasses: merge.familiarClasses,
    publicValidation,
    evaluation,
    featureShape: pool.featureShape,
    numClasses: pool.numClasses,
  };
}
