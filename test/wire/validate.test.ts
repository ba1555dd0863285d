import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layer, type Weights } from '../../src/model/weights.ts';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import type { RejectReason } from '../../src/wire/errors.ts';
import { encodeMessage, type UpdateFields } from '../../src/wire/message.ts';
import { taskSchema } from '../../src/wire/schema.ts';
import { gossipVerdict, type ValidationContext, validateUpdate } from '../../src/wire/validate.ts';
import { schemaFor, smallModel, TASK } from './helpers.ts';

const model = smallModel(1);
const schema = schemaFor(model);
const ctx: ValidationContext = { schema };
const PAYLOAD = 31 + TASK.length; // offset of layer 0's length prefix

function message(overrides: Partial<UpdateFields> = {}, w: Weights = model): Uint8Array {
  return encodeMessage(
    {
      kind: 'delta',
      taskId: TASK,
      fingerprint: schema.fingerprint,
      seq: 5,
      base: 4,
      samples: 100,
      codec: parseCodec('fp32'),
      ...overrides,
    },
    w,
  );
}

function patch(bytes: Uint8Array, edit: (view: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  edit(new DataView(copy.buffer));
  return copy;
}

function expectReject(bytes: Uint8Array, reason: RejectReason, context: ValidationContext = ctx): void {
  const result = validateUpdate(bytes, context);
  assert.equal(result.ok, false, `expected ${reason}`);
  if (!result.ok) {
    assert.equal(result.reason, reason, result.detail);
    assert.ok(result.detail.length > 0);
  }
}

test('a well-formed message validates and decodes', () => {
  const result = validateUpdate(message(), ctx);
  assert.ok(result.ok);
  if (result.ok) assert.deepEqual(result.update.weights, model);
  assert.equal(gossipVerdict(result), 'accept');
});

test('too-large: refused by length before parsing', () => {
  const bytes = message();
  expectReject(bytes, 'too-large', { schema, maxBytes: bytes.byteLength - 1 });
  expectReject(new Uint8Array(100), 'too-large', { schema, maxBytes: 99 });
});

test('undecodable: short, bad magic, unknown kind, truncated payload, trailing bytes, bad task bytes', () => {
  const bytes = message();
  expectReject(bytes.subarray(0, 10), 'undecodable');
  expectReject(new Uint8Array(0), 'undecodable');
  expectReject(
    patch(bytes, (v) => v.setUint8(0, 0x58)),
    'undecodable',
  );
  expectReject(
    patch(bytes, (v) => v.setUint8(5, 3)),
    'undecodable',
  );
  expectReject(bytes.subarray(0, bytes.length - 1), 'undecodable');
  const trailing = new Uint8Array(bytes.length + 1);
  trailing.set(bytes);
  expectReject(trailing, 'undecodable');
  expectReject(
    patch(bytes, (v) => v.setUint8(31, 0x20)),
    'undecodable',
  ); // space in task id
  expectReject(
    patch(bytes, (v) => v.setUint8(30, 255)),
    'undecodable',
  ); // task id longer than the message allows
  expectReject(
    patch(bytes, (v) => v.setUint32(PAYLOAD, 0xffffffff, true)),
    'undecodable',
  ); // length beyond the end
});

test('bad-version', () => {
  expectReject(
    patch(message(), (v) => v.setUint8(4, 2)),
    'bad-version',
  );
});

test('bad-codec: unknown ids, sparse keyframe, codec outside the allowed list', () => {
  expectReject(
    patch(message(), (v) => v.setUint8(6, 9)),
    'bad-codec',
  );
  expectReject(
    patch(message(), (v) => v.setUint8(7, 1)),
    'bad-codec',
  ); // top-k with 0 ppm
  const keyframe = message({ kind: 'keyframe', base: 5 });
  expectReject(
    patch(keyframe, (v) => {
      v.setUint8(7, 1);
      v.setUint32(8, 1000, true);
    }),
    'bad-codec',
  );
  expectReject(message({ codec: parseCodec('fp16') }), 'bad-codec', {
    schema,
    allowedCodecs: [parseCodec('topk:0.1+int8')],
  });
  assert.ok(
    validateUpdate(message({ codec: parseCodec('topk:0.1+int8') }), {
      schema,
      allowedCodecs: [parseCodec('topk:0.1+int8')],
    }).ok,
  );
});

test('wrong-task and wrong-fingerprint', () => {
  expectReject(message({ taskId: 'other-task' }), 'wrong-task');
  // Another architecture, initial-model seed or codec family: another fingerprint.
  const other = [layer('x', [3, 3])];
  expectReject(message({ fingerprint: schemaFor(other).fingerprint }, other), 'wrong-fingerprint');
  const otherSeed = taskSchema({ taskId: TASK, layout: model, modelSeed: 7, codec: parseCodec('fp32') });
  expectReject(message({ fingerprint: otherSeed.fingerprint }), 'wrong-fingerprint');
});

test('wrong-shape: layer count or payload size disagreeing with our model', () => {
  expectReject(
    patch(message(), (v) => v.setUint16(28, model.length + 1, true)),
    'wrong-shape',
  );
  // fp32 layer 0 claims 4 bytes less and the message is cut to match: sizes come from our model.
  const bytes = message();
  const size = model[0].values.length * 4;
  const shorter = new Uint8Array(bytes.length - 4);
  shorter.set(bytes.subarray(0, PAYLOAD + 4 + size - 4));
  shorter.set(bytes.subarray(PAYLOAD + 4 + size), PAYLOAD + 4 + size - 4);
  new DataView(shorter.buffer).setUint32(PAYLOAD, size - 4, true);
  expectReject(shorter, 'wrong-shape');
});

test('bad-index: top-k indices out of range or not increasing', () => {
  const bytes = message({ codec: parseCodec('topk:0.5') });
  // Layer 0 (320 values, k = 160): after u32 length and u32 k come the varints.
  const first = PAYLOAD + 8;
  expectReject(
    patch(bytes, (v) => v.setUint8(first + 1, 0)),
    'bad-index',
  ); // gap 0
  const wide = patch(bytes, (v) => {
    v.setUint8(first, 0xff);
    v.setUint8(first + 1, 0x7f); // first index 16383 >= 320 (two-byte varint)
  });
  expectReject(wide, 'bad-index');
});

test('bad-scale: int8 scale NaN, infinite or negative', () => {
  for (const scale of [Number.NaN, Number.POSITIVE_INFINITY, -0.5]) {
    expectReject(
      patch(message({ codec: parseCodec('int8') }), (v) => v.setFloat32(PAYLOAD + 4, scale, true)),
      'bad-scale',
    );
  }
});

test('bad-samples and bad-seq', () => {
  expectReject(
    patch(message(), (v) => v.setUint32(24, 2_000_000_000, true)),
    'bad-samples',
  );
  expectReject(
    patch(message({ kind: 'keyframe', base: 5 }), (v) => v.setUint32(20, 4, true)),
    'bad-seq',
  );
  expectReject(
    patch(message(), (v) => v.setUint32(20, 5, true)),
    'bad-seq',
  );
});

test('non-finite: NaN/Inf in decoded values (fp32, fp16) and in the reconstructed model', () => {
  expectReject(
    patch(message(), (v) => v.setFloat32(PAYLOAD + 4 + 8, Number.NaN, true)),
    'non-finite',
  );
  expectReject(
    patch(message(), (v) => v.setFloat32(PAYLOAD + 4, Number.NEGATIVE_INFINITY, true)),
    'non-finite',
  );
  expectReject(
    patch(message({ codec: parseCodec('fp16') }), (v) => v.setUint16(PAYLOAD + 4, 0x7c00, true)),
    'non-finite',
  );
  // A finite delta that overflows the sender's public copy (with the value bound off, else
  // the huge values are 'out-of-range' first).
  const big = model.map((l) => ({ ...l, values: new Float32Array(l.values.length).fill(3e38) }));
  const delta = message({}, big);
  const unbounded = { schema, valueBound: Number.POSITIVE_INFINITY };
  assert.ok(validateUpdate(delta, unbounded).ok);
  expectReject(delta, 'non-finite', { ...unbounded, lastSeq: 4, publicCopy: big });
  expectReject(delta, 'out-of-range');
});

test('stale-seq and replayed (late or duplicate messages are ignored, not punished)', () => {
  const bytes = message();
  expectReject(bytes, 'replayed', { schema, lastSeq: 5 });
  expectReject(bytes, 'stale-seq', { schema, lastSeq: 9 });
  const stale = validateUpdate(bytes, { schema, lastSeq: 9 });
  assert.equal(gossipVerdict(stale), 'ignore');
  assert.equal(gossipVerdict(validateUpdate(new Uint8Array(3), ctx)), 'reject');
});
