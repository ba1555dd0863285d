/**
 * Dataset: samples as one flat Float32Array (row-major, features in [0, 1] for images)
 * and integer class labels. Pure data, shared by training, partitioning and evaluation.
 */
export interface Dataset {
  /** n * prod(featureShape) values. */
  readonly x: Float32Array;
  /** n labels in [0, numClasses). */
  readonly y: Uint8Array;
  /** Shape of one sample, e.g. [28, 28, 1] for MNIST images or [784] for flat vectors. */
  readonly featureShape: readonly number[];
  readonly numClasses: number;
}

export function sampleCount(d: Dataset): number {
  return d.y.length;
}

export function featureSize(d: Dataset): number {
  let n = 1;
  for (const s of d.featureShape) n *= s;
  return n;
}

/** The samples at `indices`, copied, in that order. */
export function subset(d: Dataset, indices: ArrayLike<number>): Dataset {
  const f = featureSize(d);
  const x = new Float32Array(indices.length * f);
  const y = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    x.set(d.x.subarray(j * f, (j + 1) * f), i * f);
    y[i] = d.y[j];
  }
  return { x, y, featureShape: d.featureShape, numClasses: d.numClasses };
}

/** Number of samples of each class. */
export function classCounts(d: Pick<Dataset, 'y' | 'numClasses'>): number[] {
  const counts = new Array<number>(d.numClasses).fill(0);
  for (const label of d.y) counts[label] = counts[label] + 1;
  return counts;
}

/** Throws a clear error if the dataset's arrays do not agree with each other. */
export function assertDataset(d: Dataset, what = 'dataset'): void {
  const f = featureSize(d);
  if (!(f > 0)) throw new RangeError(`${what}: empty feature shape`);
  if (d.x.length !== d.y.length * f) {
    throw new RangeError(`${what}: ${d.x.length} feature values for ${d.y.length} samples of size ${f}`);
  }
  if (!(d.numClasses >= 2 && d.numClasses <= 256))
    throw new RangeError(`${what}: numClasses ${d.numClasses} not in [2, 256]`);
  for (let i = 0; i < d.y.length; i++) {
    if (d.y[i] >= d.numClasses)
      throw new RangeError(`${what}: label ${d.y[i]} at sample ${i} >= numClasses ${d.numClasses}`);
  }
}

/** A data set's training and held-out test samples. */
export interface TrainTest {
  readonly train: Dataset;
  readonly test: Dataset;
}
