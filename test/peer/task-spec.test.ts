/**
 * TaskSpec: defaults, key-level parse errors, the canonical encoding, and which fields the
 * wire fingerprint covers (task id, architecture, model seed, codec family) and which it
 * leaves to each device (batch size, learning rate, local steps, strategy, keyframes).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { parameterCountOf } from '../../src/model/spec.ts';
import { parameterCount } from '../../src/model/weights.ts';
import { taskModelLayout } from '../../src/peer/create-peer.ts';
import {
  DEFAULT_TASK,
  dataProblem,
  encodeTaskSpec,
  MAX_TASK_SPEC_BYTES,
  parseTaskSpec,
  safeParseTaskSpec,
  type TaskSpec,
  TaskSpecError,
  taskSpecRecord,
  taskWireSchema,
} from '../../src/peer/task.ts';
import { initBackend } from '../../src/train/backend.ts';

before(async () => {
  await initBackend('wasm');
});

/** The keys and problems of a failed parse. */
function issues(input: unknown): Array<[string, string]> {
  const result = safeParseTaskSpec(input);
  assert.equal(result.ok, false, `expected ${JSON.stringify(input)} to be refused`);
  return result.ok ? [] : result.issues.map((i) => [i.key, i.problem]);
}

test("the default task is the daemon's: MNIST, MLP [256, 128], seed 1, int8, bristle+ldawa, 50 steps of 32", () => {
  assert.deepEqual(taskSpecRecord(DEFAULT_TASK), {
    taskId: 'mnist',
    model: { kind: 'mlp', hidden: [256, 128] },
    modelSeed: 1,
    codec: 'int8',
    strategy: 'bristle+ldawa',
    batchSize: 32,
    learningRate: 0.05,
    localSteps: 50,
    keyframeInterval: 10,
    dataset: 'mnist',
    inputShape: [28, 28, 1],
    classes: 10,
  });
  assert.deepEqual(DEFAULT_TASK.codec, { kind: 'dense', values: 'int8' }, 'the codec is parsed once');
});

test('parse errors name the key, the rule and the value', () => {
  assert.deepEqual(issues({ taskId: 'has space' }), [
    ['taskId', 'must be 1-64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit, got "has space"'],
  ]);
  assert.deepEqual(issues({ model: { kind: 'mlp', hidden: [0] } }), [
    ['model.hidden', 'must be an array of positive integers'],
  ]);
  assert.deepEqual(issues({ batchSize: 0, learningRate: 'fast' }), [
    ['batchSize', 'must be at least 1 (samples per mini-batch), got 0'],
    ['learningRate', 'must be a number, got "fast"'],
  ]);
  assert.match(issues({ codec: 'int9' })[0]?.join(' ') ?? '', /^codec "int9": expected fp32/);
  assert.match(issues({ strategy: 'krum2' })[0]?.join(' ') ?? '', /^strategy unknown merge strategy "krum2"/);
  assert.match(issues({ strategy: 'oracle' })[0]?.join(' ') ?? '', /^strategy .*simulations only/);
  assert.match(issues({ modelSeed: -1 })[0]?.join(' ') ?? '', /^modelSeed must be at least 0/);
  assert.match(issues({ colour: 'red' })[0]?.join(' ') ?? '', /^colour unknown key \(allowed: taskId, model,/);
  assert.match(issues({ dataset: 'cifar' })[0]?.join(' ') ?? '', /^dataset must be one of mnist, fashion-mnist/);
  assert.match(issues(null)[0]?.join(' ') ?? '', /^ a task must be an object of keys/);
});

test('shape and classes follow the data set; a custom data set must give them; a CNN needs 3-D samples', () => {
  const synthetic = parseTaskSpec({ dataset: 'synthetic' });
  assert.deepEqual([synthetic.inputShape, synthetic.classes], [[8, 8, 1], 10]);
  assert.deepEqual(issues({ dataset: 'custom' }), [
    ['inputShape', 'required for a "custom" data set'],
    ['classes', 'required for a "custom" data set'],
  ]);
  assert.deepEqual(issues({ dataset: 'mnist', classes: 5 }), [
    ['classes', 'mnist has 10 classes, not 5 (or use dataset "custom")'],
  ]);
  assert.deepEqual(issues({ model: 'cnn', dataset: 'custom', inputShape: [784], classes: 10 }), [
    ['inputShape', 'a cnn needs [height, width, channels], got [784]'],
  ]);
  const custom = parseTaskSpec({ dataset: 'custom', inputShape: [784], classes: 3 });
  assert.deepEqual([custom.inputShape, custom.classes], [[784], 3]);
});

test('TaskSpecError lists every issue', () => {
  assert.throws(
    () => parseTaskSpec({ batchSize: 0, localSteps: 0 }),
    (err: unknown) =>
      err instanceof TaskSpecError &&
      err.issues.length === 2 &&
      /batchSize: must be at least 1.*; localSteps: must be at least 1/.test(err.message),
  );
});

test('canonical encoding: fixed key order, every key, stable through parse, independent of input form', () => {
  const text = encodeTaskSpec(DEFAULT_TASK);
  assert.equal(
    text,
    '{"taskId":"mnist","model":{"kind":"mlp","hidden":[256,128]},"modelSeed":1,"codec":"int8",' +
      '"strategy":"bristle+ldawa","batchSize":32,"learningRate":0.05,"localSteps":50,"keyframeInterval":10,' +
      '"dataset":"mnist","inputShape":[28,28,1],"classes":10}',
  );
  assert.equal(encodeTaskSpec(parseTaskSpec(JSON.parse(text))), text, 'parse(encode(t)) encodes the same');
  assert.deepEqual(parseTaskSpec(JSON.parse(text)), DEFAULT_TASK);
  // Other spellings of the same task: key order, a model by name, a parsed codec, empty strategy options.
  const same = parseTaskSpec({
    classes: 10,
    strategy: { name: 'bristle+ldawa', options: {} },
    codec: { kind: 'dense', values: 'int8' },
    model: 'mlp',
    taskId: 'mnist',
  });
  assert.equal(encodeTaskSpec(same), text);
  const options = (o: Record<string, unknown>) =>
    encodeTaskSpec(parseTaskSpec({ strategy: { name: 'multi-krum', options: o } }));
  assert.equal(options({ m: 2, f: 1 }), options({ f: 1, m: 2 }), 'strategy options in sorted key order');
  assert.match(options({ m: 2, f: 1 }), /"strategy":\{"name":"multi-krum","options":\{"f":1,"m":2\}\}/);
  assert.ok(text.length < MAX_TASK_SPEC_BYTES);
});

test('a task whose encoding would not travel is refused', () => {
  const result = safeParseTaskSpec({ model: { kind: 'mlp', hidden: Array.from({ length: 140_000 }, () => 1) } });
  assert.ok(!result.ok, 'refused');
  assert.match(result.issues[0]?.problem ?? '', /^task encodes to 28\d\d\d\d bytes, over 262144$/);
});

/** The fingerprint of `task` as a peer training every layer computes it. */
function fingerprint(task: TaskSpec): string {
  return taskWireSchema(task, taskModelLayout(task)).fingerprint;
}

test('the fingerprint ignores batch size, learning rate, local steps, strategy, keyframes and the top-k fraction', () => {
  const base = parseTaskSpec({ model: { kind: 'mlp', hidden: [16] }, codec: 'topk:0.1+int8' });
  const fp = fingerprint(base);
  const deviceChoices = [
    { batchSize: 64 },
    { learningRate: 0.01 },
    { localSteps: 5 },
    { strategy: 'mean' },
    { keyframeInterval: 3 },
    { codec: 'topk:0.05+int8' },
  ];
  for (const change of deviceChoices) {
    const other = parseTaskSpec({ ...taskSpecRecord(base), ...change });
    assert.equal(fingerprint(other), fp, `${JSON.stringify(change)} must not change the fingerprint`);
  }
});

test('the fingerprint covers task id, architecture, model seed, codec family and the sample shape', () => {
  const base = parseTaskSpec({ model: { kind: 'mlp', hidden: [16] }, codec: 'int8' });
  const seen = new Set([fingerprint(base)]);
  const identity = [
    { taskId: 'other' },
    { model: { kind: 'mlp', hidden: [32] } },
    { model: { kind: 'mlp', hidden: [16, 8] } },
    { modelSeed: 2 },
    { codec: 'fp16' },
    { codec: 'topk:0.1+int8' },
    { dataset: 'synthetic', inputShape: [8, 8, 1] },
    { dataset: 'custom', inputShape: [28, 28, 1], classes: 5 },
  ];
  for (const change of identity) {
    const fp = fingerprint(parseTaskSpec({ ...taskSpecRecord(base), ...change }));
    assert.ok(!seen.has(fp), `${JSON.stringify(change)} must change the fingerprint`);
    seen.add(fp);
  }
});

test('models are bounded before anything is built; the count from the spec is what buildModel builds', () => {
  const huge = { model: { kind: 'mlp', hidden: [65536, 65536] } };
  assert.deepEqual(issues(huge), [['model', '4347133952 parameters, at most 16777216']]);
  for (const input of [
    {},
    { model: 'cnn' },
    { model: 'cnn-plain', dataset: 'synthetic' },
    { model: { kind: 'cnn', stages: [[4], [8]], dense: 0 } },
    { model: { kind: 'mlp', hidden: [] }, dataset: 'custom', inputShape: [5, 3], classes: 4 },
  ]) {
    const task = parseTaskSpec(input);
    assert.equal(
      parameterCountOf(task.model, task.inputShape, task.classes),
      parameterCount(taskModelLayout(task)),
      JSON.stringify(input),
    );
  }
});

test('dataProblem: an MLP takes any samples of the right size, a CNN only the exact shape', () => {
  const mlp = DEFAULT_TASK;
  assert.equal(dataProblem({ featureShape: [28, 28, 1], numClasses: 10 }, mlp), undefined);
  assert.equal(dataProblem({ featureShape: [784], numClasses: 10 }, mlp), undefined);
  assert.equal(
    dataProblem({ featureShape: [8, 8, 1], numClasses: 10 }, mlp),
    'samples are 8x8x1, task mnist needs 28x28x1',
  );
  assert.equal(dataProblem({ featureShape: [784], numClasses: 3 }, mlp), '3 classes, task mnist has 10');
  const cnn = parseTaskSpec({ model: 'cnn' });
  assert.equal(dataProblem({ featureShape: [784], numClasses: 10 }, cnn), 'samples are 784, task mnist needs 28x28x1');
});
