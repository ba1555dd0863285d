/** Public copies shared between receivers of one process (src/wire/shared-copies.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import { PublicCopies, PublicCopyEncoder } from '../../src/wire/public-copies.ts';
import { taskSchema } from '../../src/wire/schema.ts';
import { SharedCopies } from '../../src/wire/shared-copies.ts';

const layout = [{ name: 'w', shape: [3], values: new Float32Array(3) }];
const schema = taskSchema({ taskId: 't', layout, modelSeed: 1, codec: parseCodec('int8') });
const model = (v: number) => [{ name: 'w', shape: [3], values: Float32Array.of(v, -v, 2 * v) }];

test('receivers of the same bytes on the same base hold one copy, equal to an unshared one', () => {
  const shared = new SharedCopies();
  const a = new PublicCopies({ schema, shared });
  const b = new PublicCopies({ schema, shared });
  const alone = new PublicCopies({ schema });
  const encoder = new PublicCopyEncoder({ schema, codec: parseCodec('int8') });
  for (const v of [1, 1.5, 0.25]) {
    const bytes = encoder.encodeUpdate(model(v), 10).bytes;
    for (const r of [a, b, alone]) assert.equal(r.receive('s', bytes).kind, 'applied');
    assert.equal(a.get('s')?.weights, b.get('s')?.weights, 'the same arrays');
    assert.deepEqual(a.get('s')?.weights, alone.get('s')?.weights, 'the same values as computed alone');
  }
  assert.deepEqual(shared.stats, { hits: 3, misses: 3 });
});

test('equivocation shares nothing: different bytes (or a copy of them) are computed apart', () => {
  const shared = new SharedCopies();
  const a = new PublicCopies({ schema, shared });
  const b = new PublicCopies({ schema, shared });
  const one = new PublicCopyEncoder({ schema, codec: parseCodec('int8') });
  const other = new PublicCopyEncoder({ schema, codec: parseCodec('int8') });
  assert.equal(a.receive('s', one.encodeUpdate(model(1), 10).bytes).kind, 'applied');
  assert.equal(b.receive('s', other.encodeUpdate(model(5), 10).bytes).kind, 'applied');
  assert.notEqual(a.get('s')?.weights, b.get('s')?.weights);
  assert.notDeepEqual(a.get('s')?.weights, b.get('s')?.weights);
  const bytes = one.encodeUpdate(model(2), 10).bytes;
  assert.equal(a.receive('s', bytes).kind, 'applied');
  assert.equal(b.receive('s', bytes).kind, 'applied');
  assert.notEqual(a.get('s')?.weights, b.get('s')?.weights, 'the same bytes on another base: computed apart');
  assert.notDeepEqual(a.get('s')?.weights, b.get('s')?.weights);
  assert.deepEqual(shared.stats, { hits: 0, misses: 4 });
});
