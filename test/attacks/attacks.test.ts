import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { alieAttack, alieZ } from '../../src/attacks/alie.ts';
import { flipLabels } from '../../src/attacks/label-flip.ts';
import { normalQuantile } from '../../src/attacks/normal-quantile.ts';
import { attackNames, createAttack } from '../../src/attacks/registry.ts';
import type { AttackInput, ModelAttack } from '../../src/attacks/types.ts';
import { OptionError } from '../../src/config/options.ts';
import { createRng } from '../../src/data/rng.ts';
import { flatten, layer, type Weights } from '../../src/model/weights.ts';

function vec(values: readonly number[]): Weights {
  return [layer('w', [values.length], values)];
}

function craft(name: string, input: Partial<AttackInput>, options: Record<string, unknown> = {}): number[] {
  const attack = createAttack({ name, options });
  assert.equal(attack.kind, 'model');
  const fn = (attack as { craft: ModelAttack }).craft;
  return Array.from(flatten(fn({ own: vec([1, 2]), honest: [], rng: createRng(1), ...input })));
}

function close(actual: readonly number[], expected: readonly number[], tol = 1e-5): void {
  actual.forEach((a, i) => {
    assert.ok(Math.abs(a - expected[i]) <= tol, `[${actual}] vs [${expected}]`);
  });
}

test('label flipping: reverse and shift', () => {
  assert.deepEqual(Array.from(flipLabels(Uint8Array.of(0, 1, 9, 4), 10, 'reverse')), [9, 8, 0, 5]);
  assert.deepEqual(Array.from(flipLabels(Uint8Array.of(0, 1, 9, 4), 10, 'shift')), [1, 2, 0, 5]);
  assert.throws(() => flipLabels(Uint8Array.of(10), 10, 'shift'), /label 10 >= numClasses 10/);
  const attack = createAttack({ name: 'label-flip', options: { mapping: 'shift' } });
  assert.equal(attack.kind, 'labels');
  if (attack.kind === 'labels') assert.deepEqual(Array.from(attack.flip(Uint8Array.of(2), 3)), [0]);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.nat(255)), (k, raw) => {
      const labels = Uint8Array.from(raw.map((l) => l % k));
      assert.deepEqual(flipLabels(flipLabels(labels, k, 'reverse'), k, 'reverse'), labels); // an involution
      const shifted = flipLabels(labels, k, 'shift');
      labels.forEach((l, i) => {
        assert.equal(shifted[i], (l + 1) % k);
      });
    }),
    { numRuns: 50, seed: 1 },
  );
});

test('sign flipping: model and update forms', () => {
  close(craft('sign-flip', {}, { mode: 'model' }), [-1, -2]);
  close(craft('sign-flip', { reference: vec([0.5, 0.5]) }), [0, -1]);
  assert.throws(() => craft('sign-flip', {}), /needs input.reference/);
});

test('gaussian: additive noise has the requested spread; pure noise ignores the model; seeded', () => {
  const n = 20000;
  const own = [layer('w', [n], new Float32Array(n).fill(3))];
  const stats = (xs: number[]) => {
    const m = xs.reduce((s, v) => s + v, 0) / xs.length;
    return [m, Math.sqrt(xs.reduce((s, v) => s + (v - m) ** 2, 0) / xs.length)];
  };
  const [m1, s1] = stats(craft('gaussian-noise', { own }, { sigma: 0.1 }));
  assert.ok(Math.abs(m1! - 3) < 0.01 && Math.abs(s1! - 0.1) < 0.005, `${m1} ${s1}`);
  const [m2, s2] = stats(craft('gaussian-model', { own }, { sigma: 5 }));
  assert.ok(Math.abs(m2!) < 0.2 && Math.abs(s2! - 5) < 0.2, `${m2} ${s2}`);
  assert.deepEqual(
    craft('gaussian-noise', { own, rng: createRng(9) }),
    craft('gaussian-noise', { own, rng: createRng(9) }),
  );
});

test('normal quantile matches a numerically integrated Phi', () => {
  // Phi(x) by Simpson's rule on the density from 0 (independent of the implementation).
  const phi = (x: number) => {
    const steps = 2000;
    const h = x / steps;
    let s = 0;
    for (let i = 0; i <= steps; i++) {
      const t = i * h;
      const w = i === 0 || i === steps ? 1 : i % 2 === 1 ? 4 : 2;
      s += w * Math.exp((-t * t) / 2);
    }
    return 0.5 + (s * h) / 3 / Math.sqrt(2 * Math.PI);
  };
  for (const p of [1e-6, 0.001, 0.02, 0.1, 0.3, 0.5, 0.63, 0.9, 0.975, 0.999, 1 - 1e-6]) {
    const x = normalQuantile(p);
    assert.ok(Math.abs(phi(x) - p) / Math.min(p, 1 - p) < 1e-7, `p=${p} x=${x} phi=${phi(x)}`);
  }
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959963985) < 1e-8);
  assert.throws(() => normalQuantile(1), /\(0, 1\)/);
});

test('ALIE: z from n and f, mu - z sigma per coordinate (sample std), same for all colluders', () => {
  // n = 50, f = 12: s = 26 - 12 = 14, p = (38 - 14) / 38.
  assert.ok(Math.abs(alieZ(50, 12) - normalQuantile(24 / 38)) < 1e-15);
  assert.throws(() => alieZ(10, 6), /give z explicitly/);
  const honest = [vec([1, 10]), vec([3, 10]), vec([5, 13])];
  // mean (3, 11), sample std (2, sqrt(3)); z = 1 given.
  close(craft('alie', { honest }, { z: 1 }), [1, 11 - Math.sqrt(3)]);
  const z = alieZ(10, 2); // s = 4, p = 4 / 8 -> z = 0: the mean itself
  assert.ok(Math.abs(z) < 1e-9);
  close(craft('alie', { honest }), [3, 11]);
  const attack = alieAttack({ z: 1.5 });
  const a = attack.kind === 'model' ? flatten(attack.craft({ own: vec([0, 0]), honest, rng: createRng(1) })) : [];
  const b = attack.kind === 'model' ? flatten(attack.craft({ own: vec([9, 9]), honest, rng: createRng(2) })) : [];
  assert.deepEqual(a, b);
});

test('IPM: -eps * mean(honest), or on updates', () => {
  const honest = [vec([1, 2]), vec([3, 6])];
  close(craft('ipm', { honest }, { mode: 'model' }), [-0.2, -0.4]);
  close(craft('ipm', { honest, reference: vec([1, 1]) }, { eps: 0.5 }), [0.5, -0.5]);
});

test('scaling: gamma (X - G) + G; free-rider replays the reference', () => {
  close(craft('scaling', { reference: vec([1, 1]) }, { gamma: 3 }), [1, 4]);
  close(craft('free-rider', { reference: vec([7, 8]) }), [7, 8]);
  const noisy = craft('free-rider', { reference: vec([7, 8]) }, { sigma: 0.01 });
  assert.ok(noisy.every((v, i) => Math.abs(v - [7, 8][i]!) < 0.1) && noisy[0] !== 7);
});

test('output noise: uniform halves on the output layer only', () => {
  const own = [layer('hidden', [3], [1, 2, 3]), layer('out', [50, 4], new Float32Array(200).fill(9))];
  const attack = createAttack('output-noise');
  assert.equal(attack.kind, 'model');
  if (attack.kind !== 'model') return;
  const out = attack.craft({ own, honest: [], rng: createRng(3), outputLayer: { kernel: 'out' } });
  assert.deepEqual(Array.from(out[0]!.values), [1, 2, 3]);
  out[1]!.values.forEach((v, k) => {
    if (k % 4 < 2) assert.ok(v <= 0 && v >= -0.5, `${v}`);
    else assert.ok(v >= 0 && v <= 0.5, `${v}`);
  });
  const neg = createAttack({ name: 'output-noise', options: { half: 'negative' } });
  if (neg.kind === 'model') {
    const o = neg.craft({ own, honest: [], rng: createRng(3), outputLayer: { kernel: 'out' } });
    assert.ok(o[1]!.values.every((v) => v <= 0 && v >= -0.5));
  }
  assert.throws(() => attack.craft({ own, honest: [], rng: createRng(3) }), /needs input.outputLayer/);
});

test('attack registry: names and validation', () => {
  for (const name of attackNames()) assert.ok(createAttack(name).name === name);
  assert.throws(
    () => createAttack('mimic'),
    (e: unknown) => e instanceof OptionError && /known: label-flip/.test(e.message),
  );
  assert.throws(() => createAttack({ name: 'ipm', options: { eps: -1 } }), /ipm: option "eps" must be >= 0/);
  assert.throws(() => createAttack({ name: 'alie', options: { n: 10, q: 1 } }), /unknown option "q"/);
});
