import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../../src/data/rng.ts';
import type { Weights } from '../../src/model/weights.ts';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import { decodeHeader } from '../../src/wire/message.ts';
import { PublicCopies, PublicCopyEncoder } from '../../src/wire/public-copies.ts';
import { gaussianModel, l2, perturb, schemaFor, smallModel } from './helpers.ts';

const model = smallModel(1);
const schema = schemaFor(model);

function distance(a: Weights, b: Weights): number {
  let s = 0;
  for (let l = 0; l < a.length; l++) {
    const x = a[l].values;
    const y = b[l].values;
    for (let i = 0; i < x.length; i++) s += (x[i] - y[i]) ** 2;
  }
  return Math.sqrt(s);
}

function norm(w: Weights): number {
  return Math.sqrt(w.reduce((s, l) => s + l2(l.values) ** 2, 0));
}

test('error feedback: repeated top-k+int8 deltas of a fixed target converge x̂ -> x', () => {
  const rng = createRng(21);
  const big = gaussianModel(rng, [[100, 100], [100]], 0.05);
  const bigSchema = schemaFor(big);
  const encoder = new PublicCopyEncoder({
    schema: bigSchema,
    codec: parseCodec('topk:0.05+int8'),
    keyframeInterval: 1000,
  });
  const receiver = new PublicCopies({ schema: bigSchema });
  // Start both from a keyframe of a different model, then chase the fixed target.
  const start = gaussianModel(rng, [[100, 100], [100]], 0.05);
  assert.equal(receiver.receive('a', encoder.encodeUpdate(start, 10).bytes).kind, 'applied');
  const target = big;
  const initial = distance(encoder.publicCopy() as Weights, target);
  let previous = initial;
  for (let round = 1; round <= 120; round++) {
    const sent = encoder.encodeUpdate(target, 10);
    assert.equal(sent.kind, 'delta');
    const applied = receiver.receive('a', sent.bytes);
    assert.equal(applied.kind, 'applied');
    // Receiver and sender hold the same copy, bit for bit.
    if (applied.kind === 'applied') assert.deepEqual(applied.copy.weights, encoder.publicCopy());
    const d = distance(encoder.publicCopy() as Weights, target);
    if (round % 20 === 0) {
      assert.ok(d < previous || d === 0, `round ${round}: distance ${d} did not fall below ${previous}`);
      previous = d;
    }
  }
  assert.ok(previous < initial * 1e-3, `after 120 rounds distance ${previous} vs initial ${initial}`);
});

test('keyframes: the first message, every K-th, and on request; a keyframe resets x̂ to x exactly', () => {
  const encoder = new PublicCopyEncoder({ schema, codec: parseCodec('topk:0.1+int8'), keyframeInterval: 4 });
  const rng = createRng(22);
  let x = model;
  const kinds: string[] = [];
  for (let i = 0; i < 9; i++) {
    x = perturb(rng, x);
    const sent = encoder.encodeUpdate(x, 5);
    kinds.push(sent.kind);
    assert.equal(sent.seq, i + 1);
    assert.equal(sent.base, sent.kind === 'keyframe' ? sent.seq : sent.seq - 1);
    if (sent.kind === 'keyframe') assert.deepEqual(encoder.publicCopy(), x);
  }
  assert.deepEqual(kinds, ['keyframe', 'delta', 'delta', 'delta', 'keyframe', 'delta', 'delta', 'delta', 'keyframe']);
  encoder.requestKeyframe();
  assert.equal(encoder.encodeUpdate(perturb(rng, x), 5).kind, 'keyframe');
  assert.equal(encoder.encodeUpdate(perturb(rng, x), 5).kind, 'delta');
});

test('gap: a missed delta is detected, nothing changes, and a snapshot resynchronises', () => {
  const encoder = new PublicCopyEncoder({ schema, codec: parseCodec('topk:0.2+fp16') });
  const receiver = new PublicCopies({ schema });
  const rng = createRng(23);
  let x = model;
  const next = () => {
    x = perturb(rng, x);
    return encoder.encodeUpdate(x, 7);
  };
  assert.equal(receiver.receive('s', next().bytes).kind, 'applied'); // seq 1 keyframe
  assert.equal(receiver.receive('s', next().bytes).kind, 'applied'); // seq 2
  next(); // seq 3 lost
  const before = receiver.get('s');
  const four = next();
  const result = receiver.receive('s', four.bytes);
  assert.deepEqual(result, { kind: 'gap', sender: 's', have: 2, base: 3, seq: 4 });
  assert.equal(receiver.get('s'), before, 'nothing modified on a gap');
  const snapshot = encoder.snapshot() as Uint8Array;
  assert.equal(decodeHeader(snapshot).seq, 4);
  const synced = receiver.receive('s', snapshot);
  assert.equal(synced.kind, 'applied');
  assert.deepEqual(receiver.get('s')?.weights, encoder.publicCopy());
  const five = next();
  assert.equal(receiver.receive('s', five.bytes).kind, 'applied');
  assert.deepEqual(receiver.get('s')?.weights, encoder.publicCopy());
  // A late copy of seq 4 and a replay of seq 5 are refused without change.
  const held = receiver.get('s');
  assert.equal(receiver.receive('s', four.bytes).kind, 'rejected');
  const replay = receiver.receive('s', five.bytes);
  assert.ok(replay.kind === 'rejected' && replay.reason === 'replayed');
  assert.equal(receiver.get('s'), held);
});

test('a delta from an unknown sender is a gap with nothing held', () => {
  const encoder = new PublicCopyEncoder({ schema, codec: parseCodec('int8') });
  encoder.encodeUpdate(model, 1);
  const delta = encoder.encodeUpdate(perturb(createRng(24), model), 1);
  const receiver = new PublicCopies({ schema });
  assert.deepEqual(receiver.receive('new', delta.bytes), {
    kind: 'gap',
    sender: 'new',
    have: undefined,
    base: 1,
    seq: 2,
  });
  assert.deepEqual(receiver.senders(), []);
});

test('a rejected message leaves the public copy untouched; senders are independent', () => {
  const encoder = new PublicCopyEncoder({ schema, codec: parseCodec('fp32') });
  const receiver = new PublicCopies({ schema });
  receiver.receive('a', encoder.encodeUpdate(model, 1).bytes);
  const held = receiver.get('a');
  const delta = encoder.encodeUpdate(perturb(createRng(25), model), 1).bytes.slice();
  delta[delta.length - 1] = 0xff; // last float becomes NaN
  delta[delta.length - 2] = 0xff;
  const result = receiver.receive('a', delta);
  assert.ok(result.kind === 'rejected' && result.reason === 'non-finite');
  assert.equal(receiver.get('a'), held);
  assert.equal(receiver.get('b'), undefined);
  assert.ok(norm(held?.weights as Weights) > 0);
});

test('encoder options are validated', () => {
  assert.throws(() => new PublicCopyEncoder({ schema, codec: parseCodec('topk:2') }), /topk:2/);
  assert.throws(
    () => new PublicCopyEncoder({ schema, codec: parseCodec('int8'), keyframeCodec: parseCodec('topk:0.1') }),
    /dense/,
  );
  assert.throws(() => new PublicCopyEncoder({ schema, codec: parseCodec('int8'), keyframeInterval: 0 }), /interval/);
  const encoder = new PublicCopyEncoder({ schema, codec: parseCodec('int8') });
  assert.equal(encoder.snapshot(), undefined);
  assert.throws(() => encoder.encodeUpdate(gaussianModel(createRng(1), [[2, 2]]), 1), /does not fit/);
});

test('snapshot(): equal bytes per seq until the next message, reused only while held elsewhere (weakly)', () => {
  const encoder = new PublicCopyEncoder({ schema, codec: parseCodec('int8') });
  assert.equal(encoder.snapshot(), undefined);
  encoder.encodeUpdate(model, 5);
  const first = encoder.snapshot();
  assert.ok(first !== undefined);
  // The encoder holds its last snapshot only weakly (a kept copy would hold a model per
  // peer); while `first` is alive here, a request at the same seq gets that object again.
  const again = encoder.snapshot();
  assert.equal(again, first, 'reused while alive');
  encoder.encodeUpdate(perturb(createRng(3), model), 5);
  const second = encoder.snapshot();
  assert.notEqual(second, first);
  assert.equal(decodeHeader(second as Uint8Array).seq, 2);
});
