import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertDataset } from '../../src/data/dataset.ts';
import { encodeIdx, type IdxArray, idxToDataset, parseIdx } from '../../src/data/idx.ts';

const images: IdxArray = {
  dtype: 'uint8',
  dims: [3, 2, 2],
  data: Uint8Array.from([0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8]),
};
const labels: IdxArray = { dtype: 'uint8', dims: [3], data: Uint8Array.from([0, 2, 1]) };

test('parseIdx reads a uint8 file written by hand', () => {
  // 00 00 08 02 | dims 2, 3 | six values
  const bytes = Uint8Array.from([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
  const parsed = parseIdx(bytes);
  assert.equal(parsed.dtype, 'uint8');
  assert.deepEqual(parsed.dims, [2, 3]);
  assert.deepEqual(Array.from(parsed.data), [1, 2, 3, 4, 5, 6]);
});

test('parseIdx round-trips every dtype big-endian', () => {
  const cases: IdxArray[] = [
    { dtype: 'int8', dims: [3], data: Int8Array.from([-128, 0, 127]) },
    { dtype: 'int16', dims: [2, 2], data: Int16Array.from([-32768, -1, 258, 32767]) },
    { dtype: 'int32', dims: [2], data: Int32Array.from([-2147483648, 16909060]) },
    { dtype: 'float32', dims: [3], data: Float32Array.from([0.5, -1.25, 3e38]) },
    { dtype: 'float64', dims: [1, 2], data: Float64Array.from([Math.PI, -1e-300]) },
  ];
  for (const c of cases) {
    const parsed = parseIdx(encodeIdx(c));
    assert.equal(parsed.dtype, c.dtype);
    assert.deepEqual(parsed.dims, c.dims);
    assert.deepEqual(Array.from(parsed.data), Array.from(c.data), c.dtype);
  }
  // Big-endian on the wire: 258 = 0x0102.
  const int16 = encodeIdx({ dtype: 'int16', dims: [1], data: Int16Array.from([258]) });
  assert.deepEqual(Array.from(int16.subarray(8)), [1, 2]);
});

test('parseIdx rejects malformed input with clear errors naming the source', () => {
  const good = encodeIdx(images);
  const bad = (bytes: Uint8Array, pattern: RegExp): void => {
    assert.throws(
      () => parseIdx(bytes, 'f.idx'),
      (err: Error) => pattern.test(err.message) && err.message.startsWith('f.idx'),
    );
  };
  bad(Uint8Array.from([0, 0]), /truncated header/);
  bad(Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 1, 5]), /bad magic 01 00 08 01/);
  bad(Uint8Array.from([0, 0, 0x0a, 1, 0, 0, 0, 1, 5]), /unknown IDX dtype byte 0x0a/);
  bad(Uint8Array.from([0, 0, 8, 0]), /zero dimensions/);
  bad(Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 1]), /truncated header/);
  bad(Uint8Array.from([0, 0, 8, 2, 0, 0, 0, 0, 0, 0, 0, 3]), /dimension 0 has size 0/);
  bad(good.subarray(0, good.length - 1), /size mismatch.*need 12 payload bytes, file has 11/);
  bad(Uint8Array.from([...good, 9]), /size mismatch/);
  // A header claiming 2^32-1 x 2^32-1 values must not overflow into a false match.
  bad(Uint8Array.from([0, 0, 8, 2, 255, 255, 255, 255, 255, 255, 255, 255, 1]), /size mismatch/);
});

test('idxToDataset scales pixels to [0, 1] and shapes [rows, cols, 1]', () => {
  const d = idxToDataset(parseIdx(encodeIdx(images)), parseIdx(encodeIdx(labels)), 3);
  assertDataset(d);
  assert.deepEqual(d.featureShape, [2, 2, 1]);
  assert.deepEqual(Array.from(d.y), [0, 2, 1]);
  assert.equal(d.x[0], 0);
  assert.equal(d.x[1], 1);
  assert.ok(Math.abs(d.x[2] - 0.2) < 1e-7);
});

test('idxToDataset checks counts, labels and shapes', () => {
  assert.throws(
    () => idxToDataset(images, { dtype: 'uint8', dims: [2], data: Uint8Array.from([0, 1]) }, 3, 'mnist'),
    /mnist: 3 images but 2 labels/,
  );
  assert.throws(() => idxToDataset(images, labels, 2), /label 2 at sample 1 is outside \[0, 2\)/);
  assert.throws(() => idxToDataset(labels, labels, 3), /3 or 4 dimensions/);
  assert.throws(() => idxToDataset(images, images, 3), /labels must have 1 dimension/);
  assert.throws(() => idxToDataset(images, labels, 1), /numClasses/);
});
