/**
 * The one list of named data sets: what a task's `dataset` may say, what the daemon and
 * `meshfl simulate` load by name (node/datasets.ts), and the sample shape and class count
 * of each, so a task over a named data set can be checked without loading it.
 */
import { SYNTHETIC_DEFAULTS } from './synthetic.ts';

export const DATASET_NAMES = ['mnist', 'fashion-mnist', 'synthetic'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** A task's data: a named data set, or the participants' own files (IDX, CSV) of any shape. */
export const DATASET_FAMILIES = [...DATASET_NAMES, 'custom'] as const;
export type DatasetFamily = (typeof DATASET_FAMILIES)[number];

export interface DatasetShape {
  /** Shape of one sample, e.g. [28, 28, 1]. */
  readonly inputShape: readonly number[];
  readonly classes: number;
}

/** Shapes of the named data sets as their loaders return them (synthetic: its defaults). */
export const DATASET_SHAPES: Readonly<Record<DatasetName, DatasetShape>> = {
  mnist: { inputShape: [28, 28, 1], classes: 10 },
  'fashion-mnist': { inputShape: [28, 28, 1], classes: 10 },
  synthetic: { inputShape: SYNTHETIC_DEFAULTS.featureShape, classes: SYNTHETIC_DEFAULTS.numClasses },
};

export function isDatasetName(name: string): name is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(name);
}
