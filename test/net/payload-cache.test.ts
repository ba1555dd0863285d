/** PayloadCache: bounded by bytes and by entries, least recently used evicted first. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PayloadCache } from '../../src/net/payload-cache.ts';

const bytes = (n: number, fill = n): Uint8Array => new Uint8Array(n).fill(fill);
const keys = (c: PayloadCache, candidates: string[]): string[] => candidates.filter((k) => c.get(k) !== undefined);

test('put and get, with size and byte accounting', () => {
  const c = new PayloadCache({ maxBytes: 100, maxEntries: 10 });
  assert.equal(c.get('a'), undefined);
  const a = bytes(10);
  c.put('a', a);
  c.put('b', bytes(20));
  assert.equal(c.get('a'), a, 'the stored bytes themselves');
  assert.equal(c.size, 2);
  assert.equal(c.bytes, 30);
  c.put('a', bytes(5)); // replacing a key replaces its bytes in the total
  assert.equal(c.size, 2);
  assert.equal(c.bytes, 25);
  assert.equal(c.get('a')?.byteLength, 5);
  c.clear();
  assert.equal(c.size, 0);
  assert.equal(c.bytes, 0);
  assert.equal(c.get('b'), undefined);
});

test('over the entry budget, the least recently used entry goes first', () => {
  const c = new PayloadCache({ maxBytes: 1000, maxEntries: 3 });
  c.put('a', bytes(1));
  c.put('b', bytes(1));
  c.put('c', bytes(1));
  c.get('a'); // a is now the most recently used: b is the oldest
  c.put('d', bytes(1));
  assert.deepEqual(keys(c, ['a', 'b', 'c', 'd']), ['a', 'c', 'd']);
  assert.equal(c.size, 3);
  assert.equal(c.bytes, 3);
});

test('over the byte budget, as many old entries go as needed, oldest first', () => {
  const c = new PayloadCache({ maxBytes: 100, maxEntries: 10 });
  c.put('a', bytes(40));
  c.put('b', bytes(40));
  c.put('c', bytes(10));
  c.put('d', bytes(60)); // 150 bytes: a and b go (70 left), c stays
  assert.equal(c.bytes, 70);
  assert.deepEqual(keys(c, ['a', 'b', 'c', 'd']), ['c', 'd']);
  c.put('e', bytes(30)); // exactly at the budget: nothing goes
  assert.equal(c.bytes, 100);
  assert.equal(c.size, 3);
});

test('a payload larger than the whole budget is not kept, and evicts nothing', () => {
  const c = new PayloadCache({ maxBytes: 100, maxEntries: 10 });
  c.put('a', bytes(60));
  c.put('big', bytes(101));
  assert.equal(c.get('big'), undefined);
  assert.deepEqual(keys(c, ['a']), ['a']);
  assert.equal(c.bytes, 60);
  assert.equal(c.size, 1);
});
