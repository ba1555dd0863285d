/**
 * A task's public validation set: a few labelled samples of every class that all peers of
 * a task share, added to each peer's own validation split for Bristle's integrator.
 *
 * Why: a peer's own data covers only its classes, and Bristle scores neighbours per class
 * against our own model. With own-class validation only, a neighbour is never seen to be
 * better on a class we lack, so foreign classes barely merge and class-sharded peers stay
 * specialised; with this set they learn the other classes too (measured: docs/RESULTS.md,
 * "History"). The authors' simulator
 * validates on all classes too. The set is public task data (like a model architecture),
 * never a peer's private data, and must be disjoint from the samples accuracy is reported on.
 */
import { type Dataset, subset } from './dataset.ts';
import { createRng } from './rng.ts';

/** Samples per class in a public validation set unless configured otherwise. */
export const PUBLIC_VALIDATION_PER_CLASS = 10;

/**
 * Picks `perClass` samples of every class from `source`, seeded, skipping the indices in
 * `exclude` (e.g. the evaluation subset). Throws if a class has too few samples left.
 */
export function publicValidationSet(
  source: Dataset,
  options: { perClass?: number; seed: number; exclude?: ReadonlySet<number> },
): Dataset {
  const perClass = options.perClass ?? PUBLIC_VALIDATION_PER_CLASS;
  if (!(Number.isInteger(perClass) && perClass >= 1)) throw new RangeError('perClass must be an integer >= 1');
  const byClass: number[][] = Array.from({ length: source.numClasses }, () => []);
  for (let i = 0; i < source.y.length; i++) {
    if (!options.exclude?.has(i)) byClass[source.y[i]]?.push(i);
  }
  const rng = createRng(options.seed).fork('public-validation');
  const picked: number[] = [];
  byClass.forEach((indices, c) => {
    if (indices.length < perClass) {
      throw new RangeError(`public validation: class ${c} has ${indices.length} samples left, ${perClass} needed`);
    }
    picked.push(...rng.shuffle(indices).slice(0, perClass));
  });
  picked.sort((a, b) => a - b);
  return subset(source, picked);
}

/** Concatenates two datasets of the same feature shape and class count. */
export function concatDatasets(a: Dataset, b: Dataset): Dataset {
  if (a.featureShape.join() !== b.featureShape.join() || a.numClasses !== b.numClasses) {
    throw new RangeError('concatDatasets: feature shapes or class counts differ');
  }
  const x = new Float32Array(a.x.length + b.x.length);
  x.set(a.x);
  x.set(b.x, a.x.length);
  const y = new Uint8Array(a.y.length + b.y.length);
  y.set(a.y);
  y.set(b.y, a.y.length);
  return { x, y, featureShape: a.featureShape, numClasses: a.numClasses };
}

/**
 * A peer's merge validation with the public set added: the union of the samples, and every
 * class with a validation sample counts as familiar (scored per class by Bristle).
 */
export function withPublicValidation(own: Dataset, pub: Dataset): { validation: Dataset; familiarClasses: number[] } {
  const validation = concatDatasets(own, pub);
  const present = new Set<number>(validation.y);
  return { validation, familiarClasses: [...present].sort((x, y) => x - y) };
}
