import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePixelRowsJson } from '../../src/data/pixel-rows-json.ts';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

test('parsePixelRowsJson reads rows, skipping empty ones, with any whitespace', () => {
  const parsed = parsePixelRowsJson(encode('{"data":[[0,255,3],[ 4 , 5,6 ],\n[]]}\n'), 3);
  assert.equal(parsed.count, 2);
  assert.deepEqual(Array.from(parsed.pixels), [0, 255, 3, 4, 5, 6]);
  assert.equal(parsePixelRowsJson(encode(' { "data" : [ ] } '), 3).count, 0);
});

test('parsePixelRowsJson agrees with JSON.parse on generated data', () => {
  const rows = Array.from({ length: 50 }, (_, r) => Array.from({ length: 7 }, (_, i) => (r * 31 + i * 17) % 256));
  const parsed = parsePixelRowsJson(encode(JSON.stringify({ data: rows })), 7);
  assert.deepEqual(Array.from(parsed.pixels), rows.flat());
});

test('parsePixelRowsJson rejects malformed input naming the source', () => {
  const bad = (text: string, pattern: RegExp): void => {
    assert.throws(
      () => parsePixelRowsJson(encode(text), 2, '3.json'),
      (err: Error) => {
        return err.message.startsWith('3.json: ') && pattern.test(err.message);
      },
    );
  };
  bad('[[1,2]]', /expected it to start with \{"data": \[/);
  bad('{"data":[[1,2],[3]]}', /row has 1 values, expected 2 .*row 1/);
  bad('{"data":[[1,2,3]]}', /row has 3 values/);
  bad('{"data":[[1,256]]}', /value 256 > 255/);
  bad('{"data":[[1,-2]]}', /expected an integer/);
  bad('{"data":[[1,2.5]]}', /expected "," or "]" in a row/);
  bad('{"data":[[1,2]', /expected "," or "]" after a row/);
  bad('{"data":[[1,2]]', /unexpected content after the rows/);
  bad('{"data":[[1,2]]} x', /unexpected content after the rows/);
});
