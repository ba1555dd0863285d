/** describeTaskMismatch: which fields differ, whether they block updates, and how to fix each. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTaskSpec, type TaskSpec, taskSpecRecord } from '../../src/peer/task.ts';
import { describeTaskMismatch, TASK_SPEC_KEYS, type TaskKeyNames } from '../../src/peer/task-mismatch.ts';

const daemon = parseTaskSpec({}); // mlp [256, 128], seed 1, int8, bristle+ldawa
const with_ = (task: TaskSpec, change: Record<string, unknown>): TaskSpec =>
  parseTaskSpec({ ...taskSpecRecord(task), ...change });

test('the same task: no differences', () => {
  const m = describeTaskMismatch(daemon, parseTaskSpec({}), { peer: 'X' });
  assert.deepEqual(m.differences, []);
  assert.equal(m.blocking, false);
  assert.equal(m.summary, 'X runs the same task as this peer');
});

test('another hidden layer list: names model.hidden, both values, and what to set', () => {
  const page = with_(daemon, { model: { kind: 'mlp', hidden: [32] } });
  const m = describeTaskMismatch(page, daemon, { peer: 'X' });
  assert.deepEqual(m.differences, [
    {
      field: 'model',
      key: 'model.hidden',
      blocking: true,
      ours: 'mlp [32]',
      theirs: 'mlp [256, 128]',
      set: '[256,128]',
    },
  ]);
  assert.equal(m.summary, 'X runs model.hidden mlp [256, 128]; this peer runs mlp [32]: set model.hidden to [256,128]');
});

test('the fields the fingerprint covers block; device settings are reported as allowed', () => {
  const theirs = with_(daemon, {
    taskId: 'other',
    modelSeed: 7,
    codec: 'fp16',
    batchSize: 64,
    learningRate: 0.01,
    localSteps: 5,
    keyframeInterval: 3,
    strategy: 'mean',
  });
  const m = describeTaskMismatch(daemon, theirs);
  assert.deepEqual(
    m.differences.map((d) => [d.field, d.blocking]),
    [
      ['taskId', true],
      ['modelSeed', true],
      ['codec', true],
      ['strategy', false],
      ['batchSize', false],
      ['learningRate', false],
      ['localSteps', false],
      ['keyframeInterval', false],
    ],
  );
  assert.equal(m.blocking, true);
  assert.match(m.summary, /^the other peer runs taskId other; this peer runs mnist: set taskId to "other"; /);
  assert.match(m.summary, /runs modelSeed 7; this peer runs 1: set modelSeed to 7; /);
  assert.match(m.summary, /runs codec fp16; this peer runs int8: set codec to "fp16" \(and 5 device settings differ/);
});

test('only device settings differ: not blocking, and the summary says so', () => {
  const m = describeTaskMismatch(daemon, with_(daemon, { localSteps: 8, codec: 'int8' }), { peer: 'X' });
  assert.equal(m.blocking, false);
  assert.equal(
    m.summary,
    'X runs the same task with other device settings (allowed, updates are exchanged): localSteps 8 vs 50',
  );
});

test('codec: the top-k fraction is a device choice, the family is not', () => {
  const a = with_(daemon, { codec: 'topk:0.1+int8' });
  assert.deepEqual(
    describeTaskMismatch(a, with_(daemon, { codec: 'topk:0.01+int8' })).differences.map((d) => [d.key, d.blocking]),
    [['codec', false]],
  );
  assert.deepEqual(
    describeTaskMismatch(a, daemon).differences.map((d) => [d.key, d.blocking, d.theirs, d.set]),
    [['codec', true, 'int8', '"int8"']],
  );
});

test('models: kind, one CNN part, several parts, and RepOpt (which does not change the layers)', () => {
  const cnn = with_(daemon, { model: 'cnn' });
  const kind = describeTaskMismatch(daemon, cnn).differences[0];
  assert.deepEqual([kind?.key, kind?.blocking, kind?.ours], ['model', true, 'mlp [256, 128]']);
  assert.match(kind?.set ?? '', /^\{"kind":"cnn","stages":\[\[16\],\[32,32\]\],"dense":64,"reparam":"repopt"\}$/);
  const dense = describeTaskMismatch(cnn, with_(cnn, { model: { kind: 'cnn', dense: 32 } })).differences;
  assert.deepEqual(
    dense.map((d) => [d.key, d.blocking, d.set]),
    [['model.dense', true, '32']],
  );
  const both = describeTaskMismatch(cnn, with_(cnn, { model: { kind: 'cnn', dense: 32, stages: [[8]] } }));
  assert.deepEqual(
    both.differences.map((d) => d.key),
    ['model'],
  );
  const plain = describeTaskMismatch(cnn, with_(cnn, { model: 'cnn-plain' }));
  assert.deepEqual(
    plain.differences.map((d) => [d.key, d.blocking, d.set]),
    [['model.reparam', false, '"none"']],
  );
});

test('sample shape: an MLP only sees the feature count; classes always block', () => {
  const flat = with_(daemon, { dataset: 'custom', inputShape: [784] });
  const shape = describeTaskMismatch(daemon, flat).differences;
  assert.deepEqual(
    shape.map((d) => [d.key, d.blocking]),
    [
      ['inputShape', false],
      ['dataset', false],
    ],
  );
  const fewer = describeTaskMismatch(daemon, with_(daemon, { dataset: 'custom', classes: 5 })).differences;
  assert.deepEqual(
    fewer.map((d) => [d.key, d.blocking]),
    [
      ['classes', true],
      ['dataset', false],
    ],
  );
});

test("a front end names its own config keys (the daemon's seed, round.localSteps, ...)", () => {
  const keys: TaskKeyNames = { ...TASK_SPEC_KEYS, modelSeed: 'seed', localSteps: 'round.localSteps' };
  const m = describeTaskMismatch(daemon, with_(daemon, { modelSeed: 3, localSteps: 9 }), {
    keys,
    peer: 'peer A',
    self: 'this daemon',
  });
  assert.equal(
    m.summary,
    'peer A runs seed 3; this daemon runs 1: set seed to 3 (and 1 device setting differs, which is allowed)',
  );
  assert.deepEqual(
    m.differences.map((d) => d.key),
    ['seed', 'round.localSteps'],
  );
});
