/**
 * The tiled one-pass merge loops (src/merge/accumulate.ts and its callers) against the
 * straightforward versions in reference-merges.ts: the same bits on random models whose
 * layers end inside, at and past tile boundaries, with 1 to 9 candidates (the four-at-a-time
 * loops and every remainder), zero weights and coefficients, per-class weights and signed zeros.
 * Float32 results hide most float64 rounding, so the kernels are also compared on their
 * float64 sums, where adding the candidates in another order or grouping shows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng, type Rng } from '../../src/data/rng.ts';
import { addColumnWeighted, addWeighted, addWeightedDifferences, TILE } from '../../src/merge/accumulate.ts';
import { applyMix, averageCoefficients, LeaveOutMixer } from '../../src/merge/mix.ts';
import type { Candidate } from '../../src/merge/types.ts';
import {
  distanceSquared,
  distanceSquaredWithin,
  distancesSquared,
  weightedAverageLayer,
} from '../../src/merge/vectors.ts';
import { combine, type LayerWeight, type Weighting } from '../../src/merge/weighting.ts';
import { layer, type Weights } from '../../src/model/weights.ts';
import {
  referenceCombineLayer,
  referenceMixLayer,
  referenceWeightedAverage,
  referenceWithoutLayer,
} from './reference-merges.ts';

/** Layer shapes around the tile size; the last axis is the per-class axis of combine(). */
const SHAPES: readonly (readonly number[])[] = [[1], [7, 3], [TILE], [TILE + 1], [3, TILE - 1], [2 * TILE + 5, 2]];

function randomModel(rng: Rng): Weights {
  return SHAPES.map((shape, i) => {
    const l = layer(`l${i}`, shape);
    for (let k = 0; k < l.values.length; k++) {
      const r = rng.next();
      l.values[k] = r < 0.02 ? 0 : r < 0.04 ? -0 : rng.normal();
    }
    return l;
  });
}

function assertSameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.fail(`${what}: value ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

/** A weight that is zero a quarter of the time. */
function weight(rng: Rng): number {
  return rng.next() < 0.25 ? 0 : 0.1 + 10 * rng.next();
}

const allLayers = SHAPES.map((_, i) => i);

test('the accumulation kernels add candidates in index order: same float64 sums as one at a time', () => {
  const rng = createRng(50);
  for (let m = 0; m <= 9; m++) {
    const n = 37;
    const cols = 5;
    const xs = Array.from({ length: m }, () => Float32Array.from({ length: n }, () => rng.normal() * 1e3));
    const base = Float32Array.from({ length: n }, () => rng.normal());
    const w = xs.map(() => rng.normal());
    const perColumn = xs.map(() => Float64Array.from({ length: cols }, () => rng.normal()));
    const start = 3;
    const len = 30;
    const initial = Float64Array.from({ length: len }, () => rng.normal() * 1e-3);
    const expected = [Float64Array.from(initial), Float64Array.from(initial), Float64Array.from(initial)];
    for (let j = 0; j < m; j++) {
      const x = xs[j] as Float32Array;
      for (let e = 0; e < len; e++) {
        const b = start + e;
        const [a0, a1, a2] = expected as [Float64Array, Float64Array, Float64Array];
        a0[e] = a0[e] + w[j] * x[b];
        a1[e] = a1[e] + w[j] * (x[b] - base[b]);
        a2[e] = a2[e] + (perColumn[j] as Float64Array)[b % cols] * x[b];
      }
    }
    const actual = [Float64Array.from(initial), Float64Array.from(initial), Float64Array.from(initial)];
    addWeighted(actual[0] as Float64Array, xs, w, start, len);
    addWeightedDifferences(actual[1] as Float64Array, xs, w, base, start, len);
    addColumnWeighted(actual[2] as Float64Array, xs, perColumn, cols, start, len);
    for (let k = 0; k < 3; k++) {
      assert.deepEqual(
        new BigUint64Array((actual[k] as Float64Array).buffer),
        new BigUint64Array((expected[k] as Float64Array).buffer),
        `kernel ${k}, ${m} candidates`,
      );
    }
  }
});

test('weightedAverageLayer equals the one-candidate-at-a-time average, bit for bit', () => {
  const rng = createRng(51);
  for (let inputs = 1; inputs <= 10; inputs++) {
    const models = Array.from({ length: inputs }, () => randomModel(rng));
    const weights = models.map(() => weight(rng));
    weights[0] = 1 + rng.next(); // a positive sum
    for (const index of allLayers) {
      assertSameBits(
        weightedAverageLayer(models, weights, index),
        referenceWeightedAverage(models, weights, index),
        `${inputs} inputs, layer ${index}`,
      );
    }
  }
});

test('applyMix and LeaveOutMixer (full and without a group) equal the straightforward mix, bit for bit', () => {
  const rng = createRng(52);
  for (let n = 1; n <= 9; n++) {
    const own = randomModel(rng);
    const models = Array.from({ length: n }, () => randomModel(rng));
    const weights = models.map(() => Float64Array.from(allLayers, () => weight(rng)));
    const clip = models.map(() => (rng.next() < 0.5 ? 1 : rng.next()));
    const active = models.map(() => rng.next() < 0.85);
    const ownWeight = 0.5 + rng.next();
    const coef = averageCoefficients(weights, clip, active, allLayers.length, ownWeight);
    const mixed = applyMix(own, models, allLayers, coef);
    const mixer = new LeaveOutMixer(own, models, allLayers, weights, clip, active, ownWeight);
    const full = mixer.full();
    const activeIds = active.flatMap((a, j) => (a ? [j] : []));
    const group = activeIds.filter(() => rng.next() < 0.4);
    const without = mixer.without(group);
    for (const p of allLayers) {
      const c = coef.map((cj) => cj[p]);
      assertSameBits(mixed[p].values, referenceMixLayer(own, models, p, c), `applyMix, ${n}, layer ${p}`);
      assertSameBits(full[p].values, referenceWithoutLayer(own, models, p, c, [], 1), `full, ${n}, ${p}`);
      let total = ownWeight;
      for (const j of activeIds) total += (weights[j] as Float64Array)[p];
      let removed = 0;
      for (const j of group) removed += (weights[j] as Float64Array)[p];
      const scale = total - removed > 0 ? total / (total - removed) : 0;
      assertSameBits(
        without[p].values,
        referenceWithoutLayer(own, models, p, c, group, scale),
        `without [${group}] of ${n}, layer ${p}`,
      );
    }
  }
});

test('combine equals the straightforward weighted average with scalar and per-class weights, bit for bit', () => {
  const rng = createRng(53);
  for (let n = 1; n <= 9; n++) {
    const own = randomModel(rng);
    const candidates: Candidate[] = Array.from({ length: n }, (_, j) => ({
      peer: `p${j}`,
      seq: 1,
      samples: 1,
      weights: randomModel(rng),
    }));
    const layerWeights = (): LayerWeight[] =>
      SHAPES.map((shape): LayerWeight => {
        if (rng.next() < 0.5) return { kind: 'scalar', value: weight(rng) };
        const cols = shape[shape.length - 1];
        // Zeros, a negative and a NaN: combine counts anything not finite and > 0 as 0.
        return {
          kind: 'per-class',
          values: Float64Array.from({ length: cols }, (_, c) => (c === 1 ? -1 : c === 2 ? Number.NaN : weight(rng))),
        };
      });
    // Every layer all-scalar in some trials (the plain loop), mixed in the others.
    const weights = candidates.map(() => layerWeights());
    if (n % 3 === 0) for (const w of weights) w.fill({ kind: 'scalar', value: 2 });
    const weighting: Weighting = { candidates, layers: allLayers, weights };
    const merged = combine(own, weighting);
    for (const p of allLayers) {
      assertSameBits(merged[p].values, referenceCombineLayer(own, weighting, p), `${n}, layer ${p}`);
    }
  }
});

test('distanceSquaredWithin decides exactly as distanceSquared <= bound, at and around the exact sum', () => {
  const rng = createRng(54);
  for (let n = 0; n < 20; n++) {
    const a = randomModel(rng);
    const b = n % 5 === 0 ? a : randomModel(rng);
    const layers = SHAPES.map((_, i) => i).filter(() => rng.next() < 0.8);
    const exact = distanceSquared(a, b, layers);
    for (const bound of [0, exact, exact * (1 - 1e-12), exact * (1 + 1e-12), exact / 3, exact * 3, rng.next() * 10]) {
      assert.equal(distanceSquaredWithin(a, b, layers, bound), exact <= bound, `case ${n}, bound ${bound} vs ${exact}`);
    }
  }
});

test('distancesSquared gives each distanceSquared bit for bit, for any number of models', () => {
  const rng = createRng(55);
  for (const count of [0, 1, 3, 4, 5, 9]) {
    const a = randomModel(rng);
    const bs = Array.from({ length: count }, (_, i) => (i === 2 ? a : randomModel(rng)));
    const layers = SHAPES.map((_, i) => i).filter(() => rng.next() < 0.8);
    assert.deepEqual(
      distancesSquared(a, bs, layers),
      bs.map((b) => distanceSquared(a, b, layers)),
      `${count} models`,
    );
  }
});
