import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCsvDataset } from '../../src/data/csv.ts';
import { assertDataset } from '../../src/data/dataset.ts';

test('parseCsvDataset reads features and labels, with or without a header', () => {
  const withHeader = parseCsvDataset('a,b,label\n0.5,1,0\n-2,3e-1,2\n\n', {}, 'x.csv');
  const without = parseCsvDataset('0.5,1,0\r\n-2,3e-1,2\r\n');
  for (const d of [withHeader, without]) {
    assertDataset(d);
    assert.deepEqual(Array.from(d.x), [0.5, 1, -2, Math.fround(0.3)]);
    assert.deepEqual(Array.from(d.y), [0, 2]);
    assert.deepEqual(d.featureShape, [2]);
    assert.equal(d.numClasses, 3);
  }
});

test('parseCsvDataset infers numClasses from a large file', () => {
  const lines = Array.from({ length: 200_000 }, (_, i) => `${i % 7},${i % 5}`);
  assert.equal(parseCsvDataset(lines.join('\n')).numClasses, 5);
});

test('parseCsvDataset honours numClasses, featureShape and separator', () => {
  const d = parseCsvDataset('1;2;3;4;1\n5;6;7;8;0', { numClasses: 5, featureShape: [2, 2], separator: ';' });
  assert.equal(d.numClasses, 5);
  assert.deepEqual(d.featureShape, [2, 2]);
  assert.equal(d.x.length, 8);
});

test('parseCsvDataset errors name the source and the 1-based line', () => {
  const bad = (text: string, pattern: RegExp, options = {}): void => {
    assert.throws(() => parseCsvDataset(text, options, 'data.csv'), pattern);
  };
  bad('1,2,0\n1,2\n', /data\.csv: line 2: 2 fields, expected 3/);
  bad('h1,h2,y\n1,2,0\n1,x,1', /data\.csv: line 3: field 2 "x" is not a finite number/);
  bad('1,2,0\n1,,1', /line 2: field 2 "" is not a finite number/);
  bad('1,2,0\n1,2,1.5', /line 2: label "1.5" is not an integer/);
  bad('1,2,0\n1,2,-1', /line 2: label "-1"/);
  bad('1,2,0\n1,2,4', /line 2: label 4 >= numClasses 3/, { numClasses: 3 });
  bad('7\n', /line 1: need at least one feature and a label/);
  bad('a,b\n\n', /data\.csv: no data lines/);
  bad('1,2,0', /featureShape \[3\] does not hold 2 features/, { featureShape: [3] });
});
