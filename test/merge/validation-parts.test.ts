import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClassScores } from '../../src/merge/types.ts';
import { generalizedCrossEntropy, partLoss, validationParts } from '../../src/merge/validation-parts.ts';

const scores = (sampleLoss?: number[]): ClassScores => ({
  f1: Float64Array.from([0.5, 0.5, 0.5]),
  accuracy: Float64Array.from([0.5, 0.5, 0.5]),
  overallAccuracy: 0.5,
  loss: 7,
  ...(sampleLoss ? { sampleLoss: Float32Array.from(sampleLoss) } : {}),
});

test('validationParts: the first privateCount samples are private, by class; the rest public', () => {
  const parts = validationParts({ labels: [2, 0, 2, 1, 0], privateCount: 3 });
  assert.ok(parts);
  assert.deepEqual(parts.private, [0, 1, 2]);
  assert.deepEqual(parts.public, [3, 4]);
  assert.deepEqual(
    [...parts.privateByClass.entries()],
    [
      [2, [0, 2]],
      [0, [1]],
    ],
  );
  assert.equal(validationParts(undefined), undefined);
  assert.equal(validationParts({ labels: [1, 2], privateCount: 0 }), undefined);
});

test('partLoss: the mean over the part, V loss without per-sample losses, +Infinity when non-finite', () => {
  assert.equal(partLoss(scores([1, 2, 3, 6]), [1, 3]), 4);
  assert.equal(partLoss(scores(), [1, 3]), 7);
  assert.equal(partLoss(scores([1, 2, 3, 6]), []), 7);
  assert.equal(partLoss(scores([1, Number.NaN]), [0, 1]), Number.POSITIVE_INFINITY);
});

test('generalizedCrossEntropy: near CE for small q, one minus the mean true-label probability at q 1', () => {
  const ce = [0.1, 0.5, 2.3];
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(Math.abs(generalizedCrossEntropy(scores(ce), 1e-6) - mean(ce)) < 1e-4);
  assert.ok(Math.abs(generalizedCrossEntropy(scores(ce), 1) - (1 - mean(ce.map((l) => Math.exp(-l))))) < 1e-6);
  // A confidently wrong sample adds at most 1 / q.
  assert.ok(Math.abs(generalizedCrossEntropy(scores([Number.POSITIVE_INFINITY, 0]), 0.5) - 1) < 1e-12);
  assert.equal(generalizedCrossEntropy(scores([1, Number.NaN]), 0.3), Number.POSITIVE_INFINITY);
  assert.ok(Number.isNaN(generalizedCrossEntropy(scores(), 0.3)));
  assert.throws(() => generalizedCrossEntropy(scores(ce), 0), /q must be in \(0, 1\]/);
});
