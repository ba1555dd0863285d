/** Public copies shared between receivers of one process (src/wire/shared-copies.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import { DecodeError } from '../../src/wire/errors.ts';
import { layerNorms } from '../../src/wire/norms.ts';
import { PublicCopies, PublicCopyEncoder } from '../../src/wire/public-copies.ts';
import { checkReconstruction } from '../../src/wire/reconstruct.ts';
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

test('equivocation shares nothing: different bytes, or the same bytes on another base, are computed apart', () => {
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

test("a transport that copies bytes: equal bytes from one sender share one copy, the sender's when it seeded them", () => {
  const shared = new SharedCopies();
  const a = new PublicCopies({ schema, shared });
  const b = new PublicCopies({ schema, shared });
  const alone = new PublicCopies({ schema });
  const encoder = new PublicCopyEncoder({ schema, codec: parseCodec('int8') });
  for (const v of [1, 1.5, 0.25]) {
    const before = encoder.current;
    const sent = encoder.encodeUpdate(model(v), 10);
    shared.seed(sent.bytes, sent.kind === 'keyframe' ? undefined : before, sent.publicCopy, 's');
    // Every receiver gets its own copy of the bytes (as over libp2p), at another offset.
    const copy = (): Uint8Array => {
      const buffer = new Uint8Array(sent.bytes.byteLength + 3);
      buffer.set(sent.bytes, 3);
      return buffer.subarray(3);
    };
    for (const r of [a, b, alone]) assert.equal(r.receive('s', copy()).kind, 'applied');
    assert.equal(a.get('s')?.weights, sent.publicCopy, "the sender's own copy");
    assert.equal(b.get('s')?.weights, sent.publicCopy);
    assert.deepEqual(alone.get('s')?.weights, sent.publicCopy, 'the same values as computed alone');
  }
  assert.equal(shared.canonicalHits, 6);
  assert.deepEqual(shared.stats, { hits: 6, misses: 0 });
});

test('canonical: equal bytes map to the first object of the same sender only; one byte off maps to nothing', () => {
  const shared = new SharedCopies();
  const encoder = new PublicCopyEncoder({ schema, codec: parseCodec('int8') });
  const first = encoder.encodeUpdate(model(1), 10).bytes;
  assert.equal(shared.canonical('s', first), first);
  assert.equal(shared.canonical('s', first.slice()), first);
  assert.equal(shared.canonical('s', first), first);
  const other = first.slice();
  assert.equal(shared.canonical('t', other), other, 'another sender: not mapped to s');
  const changed = first.slice();
  changed[changed.byteLength - 1] ^= 1;
  assert.equal(shared.canonical('s', changed), changed, 'different bytes stay their own');
  assert.equal(shared.canonical('s', changed.slice()), changed);
  // Two receivers of the changed bytes and one of the first share per content, never across.
  const a = new PublicCopies({ schema, shared });
  const b = new PublicCopies({ schema, shared });
  const c = new PublicCopies({ schema, shared });
  assert.equal(a.receive('s', first.slice()).kind, 'applied');
  assert.equal(b.receive('s', changed.slice()).kind, 'applied');
  assert.equal(c.receive('s', changed.slice()).kind, 'applied');
  assert.equal(b.get('s')?.weights, c.get('s')?.weights);
  assert.notEqual(a.get('s')?.weights, b.get('s')?.weights);
  assert.notDeepEqual(a.get('s')?.weights, b.get('s')?.weights);
});

test('memo: norms and range checks run once per shared object and give what each receiver computes alone', () => {
  const shared = new SharedCopies();
  const w = model(3);
  assert.equal(shared.layerNorms(w), shared.layerNorms(w), 'computed once');
  assert.deepEqual(shared.layerNorms(w), layerNorms(w));
  let runs = 0;
  const check = (bound: number) => () => {
    runs++;
    return w[0].values.some((v) => Math.abs(v) > bound) ? 'outside' : undefined;
  };
  assert.equal(shared.within(w, 10, check(10)), undefined);
  assert.equal(shared.within(w, 10, check(10)), undefined);
  assert.equal(shared.within(w, 20, check(20)), undefined, 'a pass at 10 holds at 20');
  assert.equal(runs, 1);
  assert.equal(shared.within(w, 4, check(4)), 'outside', 'a smaller bound is checked again');
  assert.equal(shared.within(w, 4, check(4)), 'outside', 'and a failure is not remembered');
  assert.equal(runs, 3);
  const delta = model(0.5);
  assert.deepEqual(shared.reconstruction(w, delta, 100), checkReconstruction(w, delta, 100));
  assert.equal(shared.reconstruction(w, delta, 100), shared.reconstruction(w, delta, 200), 'remembered');
  assert.throws(() => shared.reconstruction(w, delta, 5), DecodeError, 'copy + delta is 7 > 5');
  assert.throws(() => shared.reconstruction(w, delta, 5), DecodeError);
});

test('receivers with the memo accept and refuse exactly what receivers without it do', () => {
  const shared = new SharedCopies();
  const withMemo = [0, 1].map(() => new PublicCopies({ schema, shared, valueBound: 10 }));
  const alone = new PublicCopies({ schema, valueBound: 10 });
  const encoder = new PublicCopyEncoder({ schema, codec: parseCodec('int8') });
  // The last model is out of range for receivers bounded at 10 (the sender is not bounded).
  for (const v of [1, 2, 3, 4, 8]) {
    const bytes = encoder.encodeUpdate(model(v), 10).bytes;
    const outcome = alone.receive('s', bytes.slice());
    for (const r of withMemo) {
      const got = r.receive('s', bytes.slice());
      assert.equal(got.kind, outcome.kind, `v = ${v}`);
      if (got.kind === 'rejected' && outcome.kind === 'rejected') assert.equal(got.reason, outcome.reason);
      assert.deepEqual(r.get('s')?.weights, alone.get('s')?.weights);
    }
  }
  assert.equal(alone.get('s')?.seq, 4, 'the fifth update was refused');
});

test("the sender's decoding, seeded, is what receivers validate: no second decoding, the same copies", () => {
  const shared = new SharedCopies();
  const a = new PublicCopies({ schema, shared });
  const alone = new PublicCopies({ schema });
  const encoder = new PublicCopyEncoder({ schema, codec: parseCodec('int8') });
  for (const v of [1, 1.5, 0.25]) {
    const sent = encoder.encodeUpdate(model(v), 10);
    shared.seedDecoded(sent.bytes, sent.checked);
    const r = a.receive('s', sent.bytes);
    assert.equal(r.kind, 'applied');
    assert.equal(alone.receive('s', sent.bytes).kind, 'applied');
    // The receiver took the seeded layers (never decoded again), and they equal its own decoding.
    assert.equal(
      shared.decoded(sent.bytes, () => assert.fail('decoded again')),
      sent.checked,
    );
    assert.deepEqual(a.get('s')?.weights, alone.get('s')?.weights);
    assert.deepEqual(sent.checked.weights, sent.decoded);
  }
});
