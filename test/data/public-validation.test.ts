import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classCounts } from '../../src/data/dataset.ts';
import { concatDatasets, publicValidationSet, withPublicValidation } from '../../src/data/public-validation.ts';
import { makeSynthetic } from '../../src/data/synthetic.ts';

const { train, test: held } = makeSynthetic({ numClasses: 4, trainSamples: 400, testSamples: 200, seed: 3 });

test('public validation: perClass samples of every class, seeded, never from the excluded indices', () => {
  const exclude = new Set(Array.from({ length: 100 }, (_, i) => i));
  const a = publicValidationSet(held, { perClass: 5, seed: 1, exclude });
  assert.deepEqual(classCounts(a), [5, 5, 5, 5]);
  assert.deepEqual(publicValidationSet(held, { perClass: 5, seed: 1, exclude }).x, a.x);
  assert.notDeepEqual(publicValidationSet(held, { perClass: 5, seed: 2, exclude }).x, a.x);
  // Every picked sample is one of the non-excluded ones: compare rows.
  const f = 64;
  const allowed = new Set<string>();
  for (let i = 100; i < held.y.length; i++) allowed.add(held.x.subarray(i * f, (i + 1) * f).join());
  for (let i = 0; i < a.y.length; i++) assert.ok(allowed.has(a.x.subarray(i * f, (i + 1) * f).join()));
  assert.throws(() => publicValidationSet(held, { perClass: 1000, seed: 1 }), /class 0 has \d+ samples left/);
});

test('withPublicValidation: union of samples, every present class familiar', () => {
  const own = { ...train, y: train.y.subarray(0, 0), x: train.x.subarray(0, 0) };
  const pub = publicValidationSet(held, { perClass: 2, seed: 1 });
  const merged = withPublicValidation(own, pub);
  assert.equal(merged.validation.y.length, 8);
  assert.deepEqual(merged.familiarClasses, [0, 1, 2, 3]);
  assert.equal(concatDatasets(train, held).y.length, 600);
  assert.throws(() => concatDatasets(train, { ...held, numClasses: 5 }), /differ/);
});
