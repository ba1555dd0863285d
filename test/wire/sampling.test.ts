/** The sampling message (src/wire/sampling.ts): round trip, limits, and refusal of malformed bytes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DecodeError } from '../../src/wire/errors.ts';
import {
  checkSampleMessage,
  decodeSampleMessage,
  encodeSampleMessage,
  MAX_SAMPLE_MESSAGE_BYTES,
  MAX_WIRE_ENTRIES,
  type SampleMessage,
} from '../../src/wire/sampling.ts';
import { taskSchema } from '../../src/wire/schema.ts';

const schema = taskSchema({
  taskId: 'task-1',
  layout: [{ name: 'w', shape: [2], values: new Float32Array(2) }],
  modelSeed: 1,
  codec: { kind: 'dense', values: 'fp32' },
});
const base: SampleMessage = {
  kind: 'exchange',
  taskId: 'task-1',
  fingerprint: schema.fingerprint,
  entries: [
    { id: '12D3KooWabc', addresses: ['/memory/x', '/ip4/127.0.0.1/tcp/4001'] },
    { id: 'p7', addresses: [] },
  ],
};

test('round trip, and the largest message fits MAX_SAMPLE_MESSAGE_BYTES', () => {
  assert.deepEqual(decodeSampleMessage(encodeSampleMessage(base)), base);
  const big: SampleMessage = {
    ...base,
    taskId: 'x'.repeat(64),
    entries: Array.from({ length: MAX_WIRE_ENTRIES }, (_, i) => ({
      id: `${i}`.padEnd(128, 'a'),
      addresses: Array.from({ length: 4 }, () => `/${'a'.repeat(255)}`),
    })),
  };
  const bytes = encodeSampleMessage(big);
  assert.equal(bytes.byteLength, MAX_SAMPLE_MESSAGE_BYTES);
  assert.deepEqual(decodeSampleMessage(bytes), big);
  const check = checkSampleMessage(encodeSampleMessage(base), schema);
  assert.ok(check.ok);
});

test('the encoder refuses what the protocol does not allow', () => {
  assert.throws(() => encodeSampleMessage({ ...base, entries: [{ id: 'a b', addresses: [] }] }), RangeError);
  assert.throws(() => encodeSampleMessage({ ...base, entries: [{ id: 'a', addresses: ['nope'] }] }), RangeError);
  assert.throws(() => encodeSampleMessage({ ...base, kind: 'follow' }), RangeError);
  const tooMany = Array.from({ length: MAX_WIRE_ENTRIES + 1 }, (_, i) => ({ id: `p${i}`, addresses: [] }));
  assert.throws(() => encodeSampleMessage({ ...base, entries: tooMany }), RangeError);
});

test('malformed messages are refused with a reason', () => {
  const good = encodeSampleMessage(base);
  const reason = (bytes: Uint8Array): string => {
    const c = checkSampleMessage(bytes, schema);
    return c.ok ? 'ok' : c.reason;
  };
  const patched = (at: number, value: number): Uint8Array => {
    const b = good.slice();
    b[at] = value;
    return b;
  };
  assert.equal(reason(patched(0, 0)), 'undecodable');
  assert.equal(reason(patched(4, 2)), 'bad-version');
  assert.equal(reason(patched(5, 9)), 'undecodable', 'unknown kind');
  assert.equal(reason(good.subarray(0, good.byteLength - 1)), 'undecodable', 'truncated');
  assert.equal(reason(Uint8Array.of(...good, 0)), 'undecodable', 'trailing byte');
  assert.equal(reason(new Uint8Array(MAX_SAMPLE_MESSAGE_BYTES + 1)), 'too-large');
  const countAt = 4 + 1 + 1 + 1 + 'task-1'.length + 4;
  assert.equal(reason(patched(countAt, MAX_WIRE_ENTRIES + 1)), 'undecodable', 'too many entries');
  const twice = encodeSampleMessage({ ...base, entries: [base.entries[1]] });
  const doubled = Uint8Array.of(
    ...twice.subarray(0, countAt),
    2,
    ...twice.subarray(countAt + 1),
    ...twice.subarray(countAt + 1),
  );
  assert.equal(reason(doubled), 'undecodable', 'an id listed twice');
  assert.equal(reason(encodeSampleMessage({ ...base, taskId: 'other' })), 'wrong-task');
  assert.equal(reason(encodeSampleMessage({ ...base, fingerprint: '00000000' })), 'wrong-fingerprint');
});

test('random bytes never throw anything but DecodeError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, withHeader) => {
      const input = withHeader ? Uint8Array.of(0x4d, 0x46, 0x4c, 0x53, 1, ...bytes) : bytes;
      try {
        decodeSampleMessage(input);
      } catch (err) {
        assert.ok(err instanceof DecodeError, String(err));
      }
    }),
    { seed: 16, numRuns: 2000 },
  );
});

test("a leave carries its sender's last seq and nothing else; malformed leaves are refused", () => {
  const leave: SampleMessage = {
    kind: 'leave',
    taskId: 'task-1',
    fingerprint: schema.fingerprint,
    entries: [],
    lastSeq: 7,
  };
  const bytes = encodeSampleMessage(leave);
  assert.equal(bytes[5], 5, 'kind 5');
  assert.equal(bytes.byteLength, 4 + 1 + 1 + 1 + 'task-1'.length + 4 + 1 + 4);
  assert.deepEqual(decodeSampleMessage(bytes), leave);
  assert.deepEqual(decodeSampleMessage(encodeSampleMessage({ ...leave, lastSeq: 0xffffffff })).lastSeq, 0xffffffff);
  // It may announce only its sender: no entries, on either side of the wire.
  assert.throws(() => encodeSampleMessage({ ...leave, entries: base.entries }), RangeError);
  assert.throws(() => encodeSampleMessage({ ...leave, lastSeq: undefined }), RangeError);
  assert.throws(() => encodeSampleMessage({ ...leave, lastSeq: -1 }), RangeError);
  assert.throws(() => encodeSampleMessage({ ...base, lastSeq: 3 }), RangeError, 'lastSeq only on a leave');
  const reason = (b: Uint8Array): string => {
    const c = checkSampleMessage(b, schema);
    return c.ok ? 'ok' : c.reason;
  };
  const countAt = 4 + 1 + 1 + 1 + 'task-1'.length + 4;
  const withEntry = encodeSampleMessage({ ...base, entries: [{ id: 'p7', addresses: [] }] });
  const forged = Uint8Array.of(...withEntry.subarray(0, 5), 5, ...withEntry.subarray(6), 7, 0, 0, 0);
  assert.equal(forged[countAt], 1);
  assert.equal(reason(forged), 'undecodable', 'a leave naming another peer');
  assert.equal(reason(bytes.subarray(0, bytes.byteLength - 1)), 'undecodable', 'truncated seq');
  assert.equal(reason(Uint8Array.of(...bytes, 0)), 'undecodable', 'trailing byte');
  assert.equal(reason(bytes), 'ok');
});
