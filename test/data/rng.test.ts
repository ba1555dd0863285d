/** The seeded generator's state round trip (what a training-pool request carries between threads). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng, restoreRng } from '../../src/data/rng.ts';

test('rng: restoreRng(state()) continues the same stream, across a structured clone; bad states are refused', () => {
  const a = createRng(42);
  for (let i = 0; i < 777; i++) a.next();
  a.normal(); // leaves Box-Muller's spare pending
  const b = restoreRng(structuredClone(a.state()));
  for (let i = 0; i < 500; i++) {
    assert.equal(b.normal(), a.normal());
    assert.equal(b.int(1000), a.int(1000));
  }
  assert.equal(b.fork('x').next(), a.fork('x').next());
  assert.throws(
    () => restoreRng({ ...a.state(), words: [1, 2, 3] as unknown as [number, number, number, number] }),
    /rng state/,
  );
  assert.throws(() => restoreRng({ ...a.state(), spare: Number.NaN }), /rng state/);
});
