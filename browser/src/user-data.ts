/**
 * The user's own labelled files, read in the page (they never leave it): one CSV file
 * (`pixel,...,pixel,label` per line, pixels 0-255 or 0-1) or a pair of IDX files (images
 * and labels, optionally gzipped). The result must fit the task's model.
 */
import { parseCsvDataset } from '../../src/data/csv.ts';
import { type Dataset, subset } from '../../src/data/dataset.ts';
import { type IdxArray, idxToDataset, parseIdx } from '../../src/data/idx.ts';
import { partitionDataset } from '../../src/data/partition.ts';
import type { PeerData } from '../../src/peer/peer.ts';
import { VALIDATION_PER_CLASS } from './shard-layout.ts';
import type { TaskConfig } from './task.ts';
import { assertFitsTask } from './task-peer.ts';

/** Largest user file read, to keep the tab responsive. */
const MAX_FILE_BYTES = 200 * 1024 * 1024;
const GZIP_MAGIC = [0x1f, 0x8b];
const MAX_PIXEL = 255;
/** Fewest samples a user data set must have (a training and a validation part). */
const MIN_SAMPLES = 20;

async function readBytes(file: File): Promise<Uint8Array> {
  if (file.size > MAX_FILE_BYTES) throw new RangeError(`${file.name}: ${file.size} bytes, at most ${MAX_FILE_BYTES}`);
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (bytes[0] !== GZIP_MAGIC[0] || bytes[1] !== GZIP_MAGIC[1]) return bytes;
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function csvDataset(text: string, task: TaskConfig, source: string): Dataset {
  const parsed = parseCsvDataset(text, { numClasses: task.classes, featureShape: task.inputShape }, source);
  let max = 0;
  for (const v of parsed.x) if (v > max) max = v;
  if (max <= 1) return parsed;
  if (max > MAX_PIXEL) throw new RangeError(`${source}: pixel value ${max} is outside 0-${MAX_PIXEL}`);
  const x = parsed.x.map((v) => v / MAX_PIXEL);
  return { ...parsed, x };
}

function idxDataset(arrays: Array<{ array: IdxArray; name: string }>, task: TaskConfig): Dataset {
  const images = arrays.find((a) => a.array.dims.length >= 3);
  const labels = arrays.find((a) => a.array.dims.length === 1);
  if (!images || !labels) {
    throw new RangeError(
      `IDX files: need one image file ([n, rows, cols]) and one label file ([n]); got ${arrays.map((a) => `${a.name} [${a.array.dims.join(', ')}]`).join(' and ')}`,
    );
  }
  return idxToDataset(images.array, labels.array, task.classes, `${images.name} + ${labels.name}`);
}

/** Parses the chosen files into a Dataset that fits `task`; throws a message fit for the page. */
export async function readUserFiles(files: readonly File[], task: TaskConfig): Promise<Dataset> {
  let data: Dataset;
  if (files.length === 1) {
    const file = files[0];
    data = csvDataset(new TextDecoder().decode(await readBytes(file)), task, file.name);
  } else if (files.length === 2) {
    const arrays = await Promise.all(
      files.map(async (file) => ({ array: parseIdx(await readBytes(file), file.name), name: file.name })),
    );
    data = idxDataset(arrays, task);
  } else {
    throw new RangeError(`choose one CSV file or two IDX files (images and labels), not ${files.length} files`);
  }
  assertFitsTask(data, task, 'your data');
  if (data.y.length < MIN_SAMPLES) throw new RangeError(`your data: ${data.y.length} samples, need ${MIN_SAMPLES}`);
  return data;
}

/** A peer's splits from the user's data, evaluated on `evaluation` (the task's common set). */
export function userPeerData(data: Dataset, evaluation: Dataset, seed: number): PeerData {
  const [part] = partitionDataset(data, { kind: 'iid' }, { peers: 1, seed, validationPerClass: VALIDATION_PER_CLASS });
  if (!part) throw new Error('partition of your data is empty');
  return {
    train: subset(data, part.train),
    validation: subset(data, part.validation),
    familiarClasses: part.familiarClasses,
    evaluation,
  };
}
