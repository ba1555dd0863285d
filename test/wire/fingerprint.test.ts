/**
 * The task fingerprint (src/wire/schema.ts) covers what must match for two peers to
 * exchange updates, and nothing else: task id, layer layout, initial-model seed, codec
 * family. The TaskSpec side (which TaskSpec fields reach it) is test/peer/task-spec.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layer } from '../../src/model/weights.ts';
import { codecFamily, parseCodec } from '../../src/wire/codec-spec.ts';
import { type TaskIdentity, taskFingerprint, taskSchema } from '../../src/wire/schema.ts';
import { smallModel, TASK } from './helpers.ts';

const base: TaskIdentity = { taskId: TASK, layout: smallModel(1), modelSeed: 1, codec: parseCodec('int8') };

test('the fingerprint is 8 hex digits, the same for equal identities and for any layer values', () => {
  const fp = taskFingerprint(base);
  assert.match(fp, /^[0-9a-f]{8}$/);
  assert.equal(taskFingerprint({ ...base, layout: smallModel(2) }), fp, 'values are not part of it');
  assert.equal(taskSchema(base).fingerprint, fp);
  assert.equal(taskSchema(base).fingerprintWord, Number.parseInt(fp, 16));
});

test('task id, layout, model seed and codec family each change the fingerprint', () => {
  const variants: Array<[string, TaskIdentity]> = [
    ['task id', { ...base, taskId: 'other' }],
    ['layout', { ...base, layout: [layer('w', [3, 3])] }],
    ['a layer shape', { ...base, layout: base.layout.map((l, i) => (i === 0 ? layer(l.name, [21, 16]) : l)) }],
    ['model seed', { ...base, modelSeed: 2 }],
    ['codec family fp32', { ...base, codec: parseCodec('fp32') }],
    ['codec family topk+int8', { ...base, codec: parseCodec('topk:0.1+int8') }],
  ];
  const fps = new Set([taskFingerprint(base)]);
  for (const [what, identity] of variants) {
    const fp = taskFingerprint(identity);
    assert.ok(!fps.has(fp), `${what} must change the fingerprint`);
    fps.add(fp);
  }
});

test('the top-k fraction is a device choice: it is not part of the family', () => {
  const a = { ...base, codec: parseCodec('topk:0.1+int8') };
  const b = { ...base, codec: parseCodec('topk:0.01+int8') };
  assert.equal(codecFamily(a.codec), 'topk+int8');
  assert.equal(taskFingerprint(a), taskFingerprint(b));
  assert.notEqual(taskFingerprint(a), taskFingerprint({ ...b, codec: parseCodec('topk:0.01+fp16') }));
});

test('taskSchema refuses a bad task id or model seed', () => {
  assert.throws(() => taskSchema({ ...base, taskId: '-leading-dash' }), /task id/);
  assert.throws(() => taskSchema({ ...base, taskId: '' }), /task id/);
  assert.throws(() => taskSchema({ ...base, modelSeed: -1 }), /model seed/);
  assert.throws(() => taskSchema({ ...base, modelSeed: 1.5 }), /model seed/);
});
