import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPartitionSpec, parsePartitionSpec } from '../../src/data/partition-spec.ts';

test('parsePartitionSpec accepts objects and short strings', () => {
  assert.deepEqual(parsePartitionSpec({ kind: 'iid' }), { kind: 'iid' });
  assert.deepEqual(parsePartitionSpec({ kind: 'dirichlet', alpha: 0.5 }), { kind: 'dirichlet', alpha: 0.5 });
  assert.deepEqual(parsePartitionSpec('dirichlet:0.1:20'), { kind: 'dirichlet', alpha: 0.1, minSamples: 20 });
  assert.deepEqual(parsePartitionSpec('shards:4'), { kind: 'shards', classesPerPeer: 4 });
  assert.deepEqual(parsePartitionSpec('shards:2:random'), { kind: 'shards', classesPerPeer: 2, layout: 'random' });
  assert.deepEqual(parsePartitionSpec(' iid '), { kind: 'iid' });
});

test('formatPartitionSpec round-trips through parsePartitionSpec', () => {
  for (const text of ['iid', 'dirichlet:0.3', 'dirichlet:2:5', 'shards:4', 'shards:3:consecutive']) {
    assert.equal(formatPartitionSpec(parsePartitionSpec(text)), text);
  }
});

test('parsePartitionSpec rejects bad specs with errors naming the problem', () => {
  const bad = (value: unknown, pattern: RegExp): void => {
    assert.throws(
      () => parsePartitionSpec(value, 'config.partition'),
      (err: Error) => {
        return err instanceof TypeError && err.message.startsWith('config.partition:') && pattern.test(err.message);
      },
    );
  };
  bad(null, /expected an object/);
  bad([1], /expected an object/);
  bad({ kind: 'pathological' }, /unknown kind "pathological" \(expected one of iid, dirichlet, shards\)/);
  bad({}, /unknown kind/);
  bad({ kind: 'dirichlet' }, /alpha must be a finite number > 0, got undefined/);
  bad({ kind: 'dirichlet', alpha: 0 }, /alpha/);
  bad({ kind: 'dirichlet', alpha: '1' }, /alpha.*"1"/);
  bad({ kind: 'dirichlet', alpha: 1, minSamples: 2.5 }, /minSamples/);
  bad({ kind: 'shards', classesPerPeer: 0 }, /classesPerPeer must be an integer >= 1/);
  bad({ kind: 'shards', classesPerPeer: 2, layout: 'zigzag' }, /layout must be one of consecutive, random/);
  bad({ kind: 'iid', alpha: 1 }, /unknown field "alpha" for kind "iid"/);
  bad('dirichlet:abc', /alpha "abc" in "dirichlet:abc" is not a number/);
  bad('shards:2:random:x', /too many ":" parts/);
  bad('iid:3', /too many ":" parts/);
});
