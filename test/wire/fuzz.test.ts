import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { allFinite, sameArchitecture } from '../../src/model/weights.ts';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import { DecodeError } from '../../src/wire/errors.ts';
import { decodeMessage, encodeMessage } from '../../src/wire/message.ts';
import { PublicCopies } from '../../src/wire/public-copies.ts';
import { checkSnapshotRequest, encodeSnapshotRequest } from '../../src/wire/snapshot.ts';
import { type ValidationResult, validateUpdate } from '../../src/wire/validate.ts';
import { schemaFor, smallModel, TASK } from './helpers.ts';

const model = smallModel(3);
const schema = schemaFor(model);
const RUNS = { seed: 20261122, numRuns: 400 };

const valid: Uint8Array[] = [
  encodeMessage(
    {
      kind: 'keyframe',
      taskId: TASK,
      fingerprint: schema.fingerprint,
      seq: 1,
      base: 1,
      samples: 9,
      codec: parseCodec('fp32'),
    },
    model,
  ),
  ...['fp32', 'fp16', 'int8', 'topk:0.1', 'topk:0.2+int8', 'topk:0.3+fp16'].map((c) =>
    encodeMessage(
      {
        kind: 'delta',
        taskId: TASK,
        fingerprint: schema.fingerprint,
        seq: 2,
        base: 1,
        samples: 9,
        codec: parseCodec(c),
      },
      model,
    ),
  ),
];

function checkResult(result: ValidationResult): void {
  if (result.ok) {
    assert.ok(allFinite(result.update.weights), 'accepted update has non-finite values');
    assert.ok(sameArchitecture(result.update.weights, model), 'accepted update has another layout');
  } else {
    assert.ok(typeof result.detail === 'string' && result.detail.length > 0);
  }
}

/** A valid message with random damage: bit flips, overwritten bytes, truncation or extension. */
const damaged = fc
  .record({
    which: fc.nat(valid.length - 1),
    flips: fc.array(fc.record({ at: fc.nat(), bit: fc.nat(7) }), { minLength: 1, maxLength: 6 }),
    writes: fc.array(fc.record({ at: fc.nat(), value: fc.nat(255) }), { maxLength: 3 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    extra: fc.uint8Array({ maxLength: 8 }),
  })
  .map(({ which, flips, writes, cut, extra }) => {
    const source = valid[which];
    let bytes = source.slice();
    for (const { at, bit } of flips) bytes[at % bytes.length] ^= 1 << bit;
    for (const { at, value } of writes) bytes[at % bytes.length] = value;
    if (cut !== undefined) bytes = bytes.subarray(0, cut % (bytes.length + 1));
    if (extra.length > 0) {
      const grown = new Uint8Array(bytes.length + extra.length);
      grown.set(bytes);
      grown.set(extra, bytes.length);
      bytes = grown;
    }
    return bytes;
  });

test('fuzz: random bytes never throw and never validate', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const result = validateUpdate(bytes, { schema });
      checkResult(result);
      assert.equal(result.ok, false);
    }),
    RUNS,
  );
});

test('fuzz: random payload behind a valid header never throws or yields non-finite values', () => {
  const header = valid[1].subarray(0, 31 + TASK.length);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4000 }), fc.nat(6), (tail, codecIndex) => {
      const bytes = new Uint8Array(header.length + tail.length);
      bytes.set(valid[codecIndex].subarray(0, header.length));
      bytes.set(tail, header.length);
      checkResult(validateUpdate(bytes, { schema }));
    }),
    RUNS,
  );
});

test('fuzz: damaged valid messages never throw raw errors; accepted ones are finite', () => {
  fc.assert(
    fc.property(damaged, (bytes) => {
      checkResult(validateUpdate(bytes, { schema }));
      try {
        const update = decodeMessage(bytes, schema);
        assert.ok(allFinite(update.weights));
      } catch (err) {
        assert.ok(err instanceof DecodeError, `raw error: ${String(err)}`);
      }
    }),
    RUNS,
  );
});

test('fuzz: a receiver fed damaged messages keeps only finite public copies', () => {
  const receiver = new PublicCopies({ schema });
  assert.equal(receiver.receive('p', valid[0]).kind, 'applied');
  fc.assert(
    fc.property(damaged, (bytes) => {
      const result = receiver.receive('p', bytes);
      assert.ok(['applied', 'gap', 'rejected'].includes(result.kind));
      assert.ok(allFinite(receiver.get('p')?.weights ?? []));
    }),
    RUNS,
  );
});

test('fuzz: snapshot requests: random and damaged bytes never throw', () => {
  const good = encodeSnapshotRequest({ taskId: TASK, fingerprint: schema.fingerprint });
  assert.ok(checkSnapshotRequest(good, schema).ok);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(), fc.nat(7), (random, at, bit) => {
      checkSnapshotRequest(random, schema);
      const flipped = good.slice();
      flipped[at % flipped.length] ^= 1 << bit;
      const result = checkSnapshotRequest(flipped, schema);
      assert.equal(result.ok, false);
    }),
    RUNS,
  );
});
