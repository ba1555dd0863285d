import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layer } from '../../src/model/weights.ts';
import { checkSnapshotRequest, decodeSnapshotRequest, encodeSnapshotRequest } from '../../src/wire/snapshot.ts';
import { SNAPSHOT_PROTOCOL, updatesTopic } from '../../src/wire/topic.ts';
import { schemaFor, smallModel, TASK } from './helpers.ts';

const schema = schemaFor(smallModel(1));

test('topic and protocol names', () => {
  assert.equal(updatesTopic('mnist-mlp'), '/meshfl/1/mnist-mlp/updates');
  assert.equal(SNAPSHOT_PROTOCOL, '/meshfl/1/snapshot');
  assert.throws(() => updatesTopic('a/b'), /task id/);
  assert.throws(() => updatesTopic(''), /task id/);
  assert.throws(() => updatesTopic('x'.repeat(65)), /task id/);
});

test('snapshot request layout and round trip', () => {
  const bytes = encodeSnapshotRequest({ taskId: 'ab', fingerprint: '0a0b0c0d' });
  assert.deepEqual([...bytes], [0x4d, 0x46, 0x4c, 0x51, 1, 2, 0x61, 0x62, 0x0d, 0x0c, 0x0b, 0x0a]);
  assert.deepEqual(decodeSnapshotRequest(bytes), { taskId: 'ab', fingerprint: '0a0b0c0d' });
});

test('snapshot requests are matched against our task', () => {
  const ok = encodeSnapshotRequest({ taskId: TASK, fingerprint: schema.fingerprint });
  assert.deepEqual(checkSnapshotRequest(ok, schema), {
    ok: true,
    request: { taskId: TASK, fingerprint: schema.fingerprint },
  });
  const otherTask = checkSnapshotRequest(
    encodeSnapshotRequest({ taskId: 'x', fingerprint: schema.fingerprint }),
    schema,
  );
  assert.ok(!otherTask.ok && otherTask.reason === 'wrong-task');
  const otherModel = schemaFor([layer('w', [1])]);
  const wrongFp = checkSnapshotRequest(
    encodeSnapshotRequest({ taskId: TASK, fingerprint: otherModel.fingerprint }),
    schema,
  );
  assert.ok(!wrongFp.ok && wrongFp.reason === 'wrong-fingerprint');
  const versioned = ok.slice();
  versioned[4] = 9;
  const badVersion = checkSnapshotRequest(versioned, schema);
  assert.ok(!badVersion.ok && badVersion.reason === 'bad-version');
  const trailing = checkSnapshotRequest(Uint8Array.of(...ok, 0), schema);
  assert.ok(!trailing.ok && trailing.reason === 'undecodable');
});
