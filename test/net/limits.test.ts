/** The 64 MiB message limit has one definition (src/limits.ts); every default uses it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_MESSAGE_BYTES } from '../../src/limits.ts';
import { MAX_PAYLOAD_BYTES, MAX_RESPONSE_BYTES } from '../../src/net/constants.ts';
import { Bus } from '../../src/net/inproc-bus.ts';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../src/wire/constants.ts';

test('payloads, responses, update messages and the Bus default share one 64 MiB limit', () => {
  assert.equal(MAX_MESSAGE_BYTES, 64 * 1024 * 1024);
  for (const limit of [MAX_PAYLOAD_BYTES, MAX_RESPONSE_BYTES, DEFAULT_MAX_MESSAGE_BYTES, new Bus().maxPayloadBytes])
    assert.equal(limit, MAX_MESSAGE_BYTES);
  assert.equal(new Bus({ maxPayloadBytes: 1024 }).maxPayloadBytes, 1024, 'still configurable');
});
