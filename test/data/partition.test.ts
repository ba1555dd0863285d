import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countClasses, type PeerPartition, partitionDataset, shardClasses } from '../../src/data/partition.ts';
import type { PartitionSpec } from '../../src/data/partition-spec.ts';
import { createRng } from '../../src/data/rng.ts';

const K = 10;
const PER_CLASS = 600;
/** Labels only: partitioners never look at features. Shuffled so index order says nothing about class. */
const labels = {
  y: Uint8Array.from(createRng(99).shuffle(Array.from({ length: K * PER_CLASS }, (_, i) => i % K))),
  numClasses: K,
};

function all(p: PeerPartition): number[] {
  return [...p.train, ...p.validation];
}

function assertDisjoint(parts: PeerPartition[]): Set<number> {
  const seen = new Set<number>();
  for (const p of parts) {
    for (const i of all(p)) {
      assert.ok(!seen.has(i), `sample ${i} given twice`);
      assert.ok(i < labels.y.length);
      seen.add(i);
    }
  }
  return seen;
}

function maxClassFraction(p: PeerPartition): number {
  const counts = countClasses(labels.y, all(p), K);
  return Math.max(...counts) / all(p).length;
}

function meanMaxClassFraction(spec: PartitionSpec, seeds: number[]): number {
  let sum = 0;
  let n = 0;
  for (const seed of seeds) {
    for (const p of partitionDataset(labels, spec, { peers: 10, seed })) {
      sum += maxClassFraction(p);
      n++;
    }
  }
  return sum / n;
}

const SPECS: PartitionSpec[] = [
  { kind: 'iid' },
  { kind: 'dirichlet', alpha: 0.5 },
  { kind: 'shards', classesPerPeer: 4 },
  { kind: 'shards', classesPerPeer: 3, layout: 'random' },
];

test('every partitioner gives disjoint shares with disjoint, sorted train and validation', () => {
  for (const spec of SPECS) {
    const parts = partitionDataset(labels, spec, { peers: 7, seed: 1 });
    assert.equal(parts.length, 7);
    assertDisjoint(parts);
    for (const p of parts) {
      const train = new Set(p.train);
      for (const v of p.validation) assert.ok(!train.has(v), `${spec.kind}: validation sample ${v} also in train`);
      assert.deepEqual(
        [...p.train],
        [...p.train].sort((a, b) => a - b),
      );
      assert.deepEqual(
        [...p.validation],
        [...p.validation].sort((a, b) => a - b),
      );
    }
  }
});

test('iid and dirichlet cover every sample', () => {
  for (const spec of SPECS.slice(0, 2)) {
    const covered = assertDisjoint(partitionDataset(labels, spec, { peers: 9, seed: 4 }));
    assert.equal(covered.size, labels.y.length, spec.kind);
  }
});

test('same seed gives identical partitions, another seed a different one', () => {
  for (const spec of SPECS) {
    const a = partitionDataset(labels, spec, { peers: 6, seed: 11 });
    const b = partitionDataset(labels, spec, { peers: 6, seed: 11 });
    const c = partitionDataset(labels, spec, { peers: 6, seed: 12 });
    assert.deepEqual(a, b, spec.kind);
    assert.notDeepEqual(a, c, spec.kind);
  }
});

test('iid shares have near-equal sizes and class proportions close to the global ones', () => {
  const parts = partitionDataset(labels, { kind: 'iid' }, { peers: 10, seed: 5 });
  for (const p of parts) {
    assert.equal(all(p).length, PER_CLASS);
    const counts = countClasses(labels.y, all(p), K);
    // Global proportion 0.1; a share of 600 has sd about 0.012 per class.
    for (const n of counts) assert.ok(Math.abs(n / PER_CLASS - 1 / K) < 0.06, `counts ${counts}`);
    assert.deepEqual(p.familiarClasses, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }
  assert.ok(meanMaxClassFraction({ kind: 'iid' }, [1, 2, 3]) < 0.16);
});

test('dirichlet: small alpha gives skewed peers, large alpha near-uniform ones', () => {
  const seeds = [1, 2, 3, 4];
  const skewed = meanMaxClassFraction({ kind: 'dirichlet', alpha: 0.1 }, seeds);
  const middle = meanMaxClassFraction({ kind: 'dirichlet', alpha: 1 }, seeds);
  const uniform = meanMaxClassFraction({ kind: 'dirichlet', alpha: 100 }, seeds);
  assert.ok(skewed > 0.5, `alpha 0.1: mean max-class fraction ${skewed}`);
  assert.ok(uniform < 0.14, `alpha 100: mean max-class fraction ${uniform}`);
  assert.ok(skewed > middle && middle > uniform, `${skewed} > ${middle} > ${uniform}`);
});

test('dirichlet guarantees every peer its minimum number of samples', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const parts = partitionDataset(labels, { kind: 'dirichlet', alpha: 0.01, minSamples: 40 }, { peers: 30, seed });
    for (const p of parts) assert.ok(all(p).length >= 40, `seed ${seed}: a peer has ${all(p).length} samples`);
    assert.equal(assertDisjoint(parts).size, labels.y.length);
  }
  assert.throws(
    () => partitionDataset(labels, { kind: 'dirichlet', alpha: 1, minSamples: 1000 }, { peers: 7, seed: 1 }),
    /exceeds the 6000 samples/,
  );
});

test('shards: consecutive layout gives peer p the classes p, p+1, ... mod K', () => {
  const parts = partitionDataset(labels, { kind: 'shards', classesPerPeer: 4 }, { peers: 12, seed: 2 });
  parts.forEach((p, i) => {
    const expected = [0, 1, 2, 3].map((j) => (i + j) % K).sort((a, b) => a - b);
    assert.deepEqual(p.familiarClasses, expected, `peer ${i}`);
    const present = countClasses(labels.y, all(p), K).flatMap((n, c) => (n > 0 ? [c] : []));
    assert.deepEqual(present, expected, `peer ${i}`);
  });
  // 12 peers x 4 classes over 10 classes: every class is held, so everything is covered.
  assert.equal(assertDisjoint(parts).size, labels.y.length);
});

test('shards: samples of a class are split evenly among its holders', () => {
  const parts = partitionDataset(labels, { kind: 'shards', classesPerPeer: 2 }, { peers: 10, seed: 3 });
  // Every class is held by exactly two peers: 300 samples each.
  for (const p of parts) {
    const counts = countClasses(labels.y, all(p), K);
    assert.deepEqual(
      counts.filter((n) => n > 0),
      [300, 300],
    );
  }
});

test('shards: random layout gives exactly classesPerPeer distinct classes per peer', () => {
  const parts = partitionDataset(
    labels,
    { kind: 'shards', classesPerPeer: 3, layout: 'random' },
    { peers: 8, seed: 6 },
  );
  for (const p of parts) assert.equal(p.familiarClasses.length, 3);
  const sets = parts.map((p) => p.familiarClasses.join(','));
  assert.ok(new Set(sets).size > 1, 'random layout gave every peer the same classes');
  const rngSets = shardClasses(K, 50, 3, 'random', createRng(1));
  for (const s of rngSets) assert.equal(new Set(s).size, 3);
  assert.throws(
    () => shardClasses(K, 2, 11, 'consecutive', createRng(1)),
    /classesPerPeer must be an integer in \[1, 10\]/,
  );
});

test('validation takes validationPerClass per held class, at most half of it', () => {
  const parts = partitionDataset(labels, { kind: 'shards', classesPerPeer: 4 }, { peers: 10, seed: 8 });
  for (const p of parts) {
    assert.equal(p.validation.length, 4 * 10);
    const counts = countClasses(labels.y, p.validation, K);
    for (const c of p.familiarClasses) assert.equal(counts[c], 10);
  }
  // A class with 5 samples gives up 2 to validation and keeps 3 for training.
  const tiny = { y: Uint8Array.from([0, 0, 0, 0, 0, 1]), numClasses: 2 };
  const [only] = partitionDataset(tiny, { kind: 'iid' }, { peers: 1, seed: 1, validationPerClass: 10 });
  assert.equal(only?.validation.length, 2);
  assert.equal(only?.train.length, 4);
  assert.deepEqual(only?.familiarClasses, [0, 1]);
  const none = partitionDataset(labels, { kind: 'iid' }, { peers: 3, seed: 1, validationPerClass: 0 });
  for (const p of none) assert.equal(p.validation.length, 0);
});

test('familiar classes can require a minimum training count', () => {
  const parts = partitionDataset(
    labels,
    { kind: 'dirichlet', alpha: 0.3 },
    { peers: 10, seed: 9, minFamiliarCount: 50 },
  );
  for (const p of parts) {
    const counts = countClasses(labels.y, p.train, K);
    assert.deepEqual(
      p.familiarClasses,
      counts.flatMap((n, c) => (n >= 50 ? [c] : [])),
    );
  }
});

test('partitionDataset rejects bad options', () => {
  assert.throws(
    () => partitionDataset(labels, { kind: 'iid' }, { peers: 0, seed: 1 }),
    /peers must be an integer >= 1/,
  );
  assert.throws(() => partitionDataset(labels, { kind: 'iid' }, { peers: 6001, seed: 1 }), /only 6000 samples/);
  assert.throws(
    () => partitionDataset(labels, { kind: 'iid' }, { peers: 2, seed: 1, validationPerClass: -1 }),
    /validationPerClass/,
  );
  const badLabels = { y: Uint8Array.from([0, 1, 3]), numClasses: 3 };
  assert.throws(() => partitionDataset(badLabels, { kind: 'iid' }, { peers: 1, seed: 1 }), /label 3 at sample 2/);
});
