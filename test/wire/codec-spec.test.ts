import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codecFromWire, codecToWire, formatCodec, parseCodec, topkCount } from '../../src/wire/codec-spec.ts';
import { DecodeError } from '../../src/wire/errors.ts';

test('parseCodec accepts every documented form', () => {
  assert.deepEqual(parseCodec('fp32'), { kind: 'dense', values: 'fp32' });
  assert.deepEqual(parseCodec('fp16'), { kind: 'dense', values: 'fp16' });
  assert.deepEqual(parseCodec('int8'), { kind: 'dense', values: 'int8' });
  assert.deepEqual(parseCodec('topk:0.1'), { kind: 'topk', values: 'fp32', ppm: 100_000 });
  assert.deepEqual(parseCodec('topk:0.05+int8'), { kind: 'topk', values: 'int8', ppm: 50_000 });
  assert.deepEqual(parseCodec('topk:1+fp16'), { kind: 'topk', values: 'fp16', ppm: 1_000_000 });
  assert.deepEqual(parseCodec('topk:.000001'), { kind: 'topk', values: 'fp32', ppm: 1 });
});

test('parseCodec rejects malformed specs with a message naming the problem', () => {
  const cases: [string, RegExp][] = [
    ['', /expected fp32/],
    ['fp64', /expected fp32/],
    ['topk', /expected fp32/],
    ['topk:', /not a decimal/],
    ['topk:0', /\(0, 1\]/],
    ['topk:1.5', /\(0, 1\]/],
    ['topk:-0.1', /not a decimal/],
    ['topk:0.1e-2', /not a decimal/],
    ['topk:0.0000001', /\(0, 1\]|6 decimal/],
    ['topk:0.1234567', /6 decimal/],
    ['topk:0.1+int4', /value codec after/],
    ['topk:0.1+', /value codec after/],
    ['topk:0.1+topk:0.1', /value codec after/],
  ];
  for (const [text, message] of cases) assert.throws(() => parseCodec(text), message, text);
});

test('formatCodec and the wire form round-trip', () => {
  for (const text of ['fp32', 'fp16', 'int8', 'topk:0.1', 'topk:0.05+int8', 'topk:0.001+fp16', 'topk:1']) {
    const spec = parseCodec(text);
    assert.equal(formatCodec(spec), text);
    assert.deepEqual(codecFromWire(codecToWire(spec)), spec);
  }
});

test('codecFromWire refuses unknown ids and bad fractions', () => {
  const bad = [
    { valueId: 0, sparsityId: 0, ppm: 0 },
    { valueId: 4, sparsityId: 0, ppm: 0 },
    { valueId: 1, sparsityId: 2, ppm: 0 },
    { valueId: 1, sparsityId: 0, ppm: 5 },
    { valueId: 1, sparsityId: 1, ppm: 0 },
    { valueId: 1, sparsityId: 1, ppm: 1_000_001 },
  ];
  for (const wire of bad) {
    assert.throws(
      () => codecFromWire(wire),
      (e: unknown) => e instanceof DecodeError && e.reason === 'bad-codec',
    );
  }
});

test('topkCount keeps ceil(n * fraction), at least one, at most n', () => {
  assert.equal(topkCount(0, 100_000), 0);
  assert.equal(topkCount(1, 1), 1);
  assert.equal(topkCount(10, 100_000), 1);
  assert.equal(topkCount(11, 100_000), 2);
  assert.equal(topkCount(1_000_000, 50_000), 50_000);
  assert.equal(topkCount(7, 1_000_000), 7);
});
