import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../../src/data/rng.ts';
import { layer, parameterCount } from '../../src/model/weights.ts';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import { decodeHeader, decodeMessage, encodeMessage, maxEncodedSize } from '../../src/wire/message.ts';
import { gaussianModel, maxAbs, maxAbsDiff, schemaFor, smallModel, TASK } from './helpers.ts';

/** Any fingerprint: the encoder writes what it is given. */
const FP = 'a1b2c3d4';

const ALL_CODECS = ['fp32', 'fp16', 'int8', 'topk:0.1', 'topk:0.05+int8', 'topk:0.01+fp16'];

test('the documented byte layout, byte by byte, for a one-layer model', () => {
  const w = [layer('w', [2], [1.5, -2])];
  const bytes = encodeMessage(
    { kind: 'delta', taskId: 'ab', fingerprint: FP, seq: 7, base: 6, samples: 300, codec: parseCodec('fp32') },
    w,
  );
  const fp = Number.parseInt(FP, 16);
  const expected = [
    0x4d,
    0x46,
    0x4c,
    0x55, // magic "MFLU"
    1, // version
    1, // kind: delta
    1,
    0,
    0,
    0,
    0,
    0, // value codec fp32, dense, ppm 0
    fp & 0xff,
    (fp >>> 8) & 0xff,
    (fp >>> 16) & 0xff,
    fp >>> 24,
    7,
    0,
    0,
    0,
    6,
    0,
    0,
    0, // seq, base
    0x2c,
    0x01,
    0,
    0, // samples 300
    1,
    0, // layer count
    2,
    0x61,
    0x62, // task id "ab"
    8,
    0,
    0,
    0, // layer 0 payload length
    0,
    0,
    0xc0,
    0x3f,
    0,
    0,
    0,
    0xc0, // 1.5, -2 as float32 LE
  ];
  assert.deepEqual([...bytes], expected);
  assert.equal(bytes.byteLength, maxEncodedSize(schemaFor(w, 'ab'), parseCodec('fp32')));
});

test('header fields survive a round trip', () => {
  const w = smallModel(1);
  const bytes = encodeMessage(
    {
      kind: 'keyframe',
      taskId: TASK,
      fingerprint: FP,
      seq: 4_000_000_000,
      base: 4_000_000_000,
      samples: 1234,
      codec: parseCodec('fp16'),
    },
    w,
  );
  const h = decodeHeader(bytes);
  assert.equal(h.kind, 'keyframe');
  assert.equal(h.seq, 4_000_000_000);
  assert.equal(h.base, 4_000_000_000);
  assert.equal(h.samples, 1234);
  assert.equal(h.taskId, TASK);
  assert.equal(h.fingerprint, FP);
  assert.deepEqual(h.codec, parseCodec('fp16'));
  assert.equal(h.layerCount, w.length);
  assert.equal(h.byteLength, bytes.byteLength);
});

test('the encoder refuses what receivers would reject', () => {
  const w = smallModel(1);
  const ok = {
    kind: 'delta',
    taskId: TASK,
    fingerprint: FP,
    seq: 2,
    base: 1,
    samples: 1,
    codec: parseCodec('fp32'),
  } as const;
  assert.throws(() => encodeMessage({ ...ok, taskId: 'has space' }, w), /task id/);
  assert.throws(() => encodeMessage({ ...ok, seq: 2 ** 32 }, w), /uint32/);
  assert.throws(() => encodeMessage({ ...ok, base: 2 }, w), /base/);
  assert.throws(() => encodeMessage({ ...ok, kind: 'keyframe' }, w), /keyframe base/);
  assert.throws(() => encodeMessage({ ...ok, kind: 'keyframe', base: 2, codec: parseCodec('topk:0.1') }, w), /dense/);
  assert.throws(() => encodeMessage({ ...ok, samples: -1 }, w), /samples/);
  const bad = smallModel(1);
  bad[0].values[3] = Number.NaN;
  assert.throws(() => encodeMessage(ok, bad), /non-finite/);
});

test('a 1M-parameter model round-trips at fp32 (exact) and within bounds at every codec', () => {
  const shapes = [[784, 1024], [1024], [1024, 190], [190], [190, 10], [10]];
  const w = gaussianModel(createRng(11), shapes, 0.05);
  assert.ok(parameterCount(w) >= 1_000_000);
  const schema = schemaFor(w);
  for (const text of ALL_CODECS) {
    const codec = parseCodec(text);
    const bytes = encodeMessage(
      { kind: 'delta', taskId: TASK, fingerprint: schema.fingerprint, seq: 2, base: 1, samples: 60, codec },
      w,
    );
    const bound = maxEncodedSize(schema, codec);
    if (codec.kind === 'dense') assert.equal(bytes.byteLength, bound, text);
    else assert.ok(bytes.byteLength <= bound, text);
    const got = decodeMessage(bytes, schema).weights;
    for (let l = 0; l < w.length; l++) {
      const x = w[l].values;
      const y = got[l].values;
      const err = maxAbsDiff(x, y);
      if (text === 'fp32') assert.deepEqual(y, x);
      else if (text === 'fp16') assert.ok(err <= maxAbs(x) * 2 ** -11, `${text} layer ${l}: ${err}`);
      else if (text === 'int8') assert.ok(err <= (maxAbs(x) / 127) * 0.5 * (1 + 1e-5), `${text} layer ${l}: ${err}`);
      else assert.ok(err <= maxAbs(x), `${text} layer ${l}: ${err}`); // top-k drops entries smaller than kept ones
    }
  }
  const fp32Size = maxEncodedSize(schema, parseCodec('fp32'));
  assert.equal(
    fp32Size - 4 * parameterCount(w),
    31 + TASK.length + 4 * w.length,
    'header: 31 bytes + task id + 4 per layer',
  );
});
