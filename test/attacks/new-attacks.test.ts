/**
 * The attacks added for issue 13's measurement: dead-input blow-up, adaptive ALIE and the
 * public-set attacker, plus the parameter values of the default attack set in
 * simulations/lockstep/compare.ts and simulations/scenarios/lockstep/ (IPM eps 2, scaling 1e3).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { medianDistanceToMean, pairwiseNoiseSigma } from '../../src/attacks/adaptive-alie.ts';
import { alieModel } from '../../src/attacks/alie.ts';
import { deadInputMask, firstInputLayer } from '../../src/attacks/dead-input-blowup.ts';
import { fineTuneUntil, topCertainty } from '../../src/attacks/public-set.ts';
import { createAttack } from '../../src/attacks/registry.ts';
import type { Attack, AttackInput, PublicSetAccess } from '../../src/attacks/types.ts';
import { trainingLabels } from '../../src/attacks/types.ts';
import { OptionError } from '../../src/config/options.ts';
import { createRng } from '../../src/data/rng.ts';
import { flatten, layer, type Weights } from '../../src/model/weights.ts';

function modelAttack(attack: Attack): Extract<Attack, { kind: 'model' }> {
  assert.equal(attack.kind, 'model');
  return attack;
}

function distance(a: Weights, b: Weights): number {
  const x = flatten(a);
  const y = flatten(b);
  let s = 0;
  for (let k = 0; k < x.length; k++) s += (x[k] - y[k]) ** 2;
  return Math.sqrt(s);
}

test('dead-input blow-up: the mask finds always-zero features; their first-layer rows get the value', () => {
  // 3 samples of 4 features: feature 1 and 3 are zero everywhere.
  const data = { x: Float32Array.of(0.5, 0, 0, 0, 0, 0, 0.2, 0, 1, 0, 0, 0), featureShape: [2, 2] };
  assert.deepEqual(Array.from(deadInputMask(data)), [0, 1, 0, 1]);
  const own = [
    layer('dense0/kernel', [4, 2], [1, 2, 3, 4, 5, 6, 7, 8]),
    layer('dense0/bias', [2], [9, 9]),
    layer('head/kernel', [2, 3], [1, 1, 1, 1, 1, 1]),
  ];
  assert.equal(firstInputLayer(own, 4), 0);
  const attack = modelAttack(createAttack('dead-input-blowup'));
  const input: AttackInput = { own, honest: [], rng: createRng(1), deadInputs: deadInputMask(data) };
  const out = attack.craft(input);
  assert.deepEqual(Array.from(out[0]!.values), [1, 2, 3e38, 3e38, 5, 6, 3e38, 3e38].map(Math.fround));
  assert.ok(out[0]!.values.every(Number.isFinite), 'the values stay finite in float32');
  assert.deepEqual(Array.from(out[1]!.values), [9, 9]);
  assert.deepEqual(Array.from(out[2]!.values), [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(Array.from(own[0]!.values), [1, 2, 3, 4, 5, 6, 7, 8], 'own is not mutated');
  const small = modelAttack(createAttack({ name: 'dead-input-blowup', options: { value: -7 } }));
  assert.equal(small.craft(input)[0]!.values[2], -7);
  assert.throws(() => attack.craft({ ...input, deadInputs: undefined }), /needs input.deadInputs/);
  assert.throws(() => attack.craft({ ...input, deadInputs: new Uint8Array(5) }), /no exchanged layer shaped \[5/);
  assert.throws(() => createAttack({ name: 'dead-input-blowup', options: { value: 1e39 } }), OptionError);
});

test('adaptive ALIE: every colluder sends ALIE plus its own noise; copies are > rho * m apart', () => {
  const rng = createRng(4);
  const d = 4000;
  const honest = Array.from({ length: 7 }, () => [
    layer(
      'w',
      [d],
      Float32Array.from({ length: d }, () => rng.normal()),
    ),
  ]);
  const m = medianDistanceToMean(honest);
  assert.ok(m > 0);
  const attack = modelAttack(createAttack({ name: 'adaptive-alie', options: { z: 1 } }));
  assert.equal(attack.perColluder, true);
  const round = createRng(9).fork('attack-0');
  const copies = [0, 1, 2].map((k) =>
    attack.craft({ own: honest[0]!, honest, rng: round.fork(`colluder-${k}`), colluder: k }),
  );
  const alie = alieModel(honest[0]!, honest, 1);
  const rho = 0.1;
  const margin = 2;
  for (let a = 0; a < copies.length; a++) {
    // Each copy sits about margin * rho * m / sqrt(2) from the ALIE model.
    const fromAlie = distance(copies[a]!, alie);
    assert.ok(Math.abs(fromAlie - (margin * rho * m) / Math.SQRT2) < 0.05 * fromAlie, `${fromAlie} vs m ${m}`);
    for (let b = a + 1; b < copies.length; b++) {
      const pair = distance(copies[a]!, copies[b]!);
      assert.ok(pair > rho * m, `colluders ${a}, ${b}: ${pair} <= rho * m = ${rho * m}`);
      assert.ok(Math.abs(pair - margin * rho * m) < 0.05 * pair, `${pair} vs ${margin * rho * m}`);
    }
  }
  assert.ok(Math.abs(pairwiseNoiseSigma(10, 50) - 1) < 1e-12);
  // margin 0: plain ALIE, identical copies.
  const plain = modelAttack(createAttack({ name: 'adaptive-alie', options: { z: 1, margin: 0 } }));
  assert.deepEqual(
    flatten(plain.craft({ own: honest[0]!, honest, rng: createRng(1) })),
    flatten(plain.craft({ own: honest[0]!, honest, rng: createRng(2) })),
  );
  assert.deepEqual(flatten(plain.craft({ own: honest[0]!, honest, rng: createRng(1) })), flatten(alie));
});

test('median distance to the mean, by hand', () => {
  // Points 0, 2, 10 on a line: mean 4, distances 4, 2, 6 -> median 4.
  assert.equal(medianDistanceToMean([[layer('w', [1], [0])], [layer('w', [1], [2])], [layer('w', [1], [10])]]), 4);
});

test('public-set attacker: certainty of the top-3 F1; fine-tunes until it passes the gate', () => {
  // top 3 of (0.9, 0.1, 0.6, 0.3) = 0.9, 0.6, 0.3: mean 0.6, population std sqrt(0.06).
  assert.ok(Math.abs(topCertainty([0.9, 0.1, 0.6, 0.3]) - (0.6 - Math.sqrt(0.06))) < 1e-12);
  assert.equal(topCertainty([0.2, 0.9, 0.1], 1), 0.9);
  assert.equal(topCertainty([]), 0);
  assert.equal(topCertainty([1, 0, 0]), 0, 'clamped at 0');

  // A fake public set: a model's F1 is its single weight on every class, fine-tuning adds 0.1 per step.
  let steps = 0;
  const access: PublicSetAccess = {
    f1: (w) => new Array(3).fill(w[0]!.values[0]),
    fineTune: (w, n) => {
      steps += n;
      return [layer('w', [1], [w[0]!.values[0] + 0.1 * n])];
    },
  };
  const poisoned = [layer('w', [1], [0])];
  const honest = [[layer('w', [1], [0.8])], [layer('w', [1], [0.9])], [layer('w', [1], [0.6])]];
  const attack = modelAttack(createAttack({ name: 'public-set', options: { steps: 2 } }));
  assert.equal(attack.perColluder, true);
  // Gate: 0.5 * median(0.8, 0.9, 0.6) = 0.4 -> two rounds of 2 steps reach 0.4.
  const sent = attack.craft({ own: poisoned, honest, rng: createRng(1), publicSet: access });
  assert.ok(Math.abs(sent[0]!.values[0] - 0.4) < 1e-6);
  assert.equal(steps, 4);
  // A gate it cannot reach: stops after maxRounds.
  const capped = fineTuneUntil(poisoned, access, { target: 10, top: 3, steps: 1, maxRounds: 3 });
  assert.equal(capped.rounds, 3);
  // Already above the gate: sent unchanged.
  assert.equal(fineTuneUntil(honest[0]!, access, { target: 0.4, top: 3, steps: 1, maxRounds: 3 }).rounds, 0);
  assert.throws(() => attack.craft({ own: poisoned, honest, rng: createRng(1) }), /needs input.publicSet/);
  // It trains on flipped labels first.
  assert.deepEqual(Array.from(trainingLabels(attack, Uint8Array.of(0, 1, 9), 10)), [9, 8, 0]);
  const shift = createAttack({ name: 'public-set', options: { mapping: 'shift' } });
  assert.deepEqual(Array.from(trainingLabels(shift, Uint8Array.of(0, 9), 10)), [1, 0]);
  assert.deepEqual(Array.from(trainingLabels(createAttack('alie'), Uint8Array.of(3), 10)), [3]);
});

test('the default attack set of compare.ts: IPM eps 2 and scaling 1e3 by hand', () => {
  const honest = [[layer('w', [2], [1, 2])], [layer('w', [2], [3, 6])]];
  const reference = [layer('w', [2], [1, 1])];
  const ipm = modelAttack(createAttack({ name: 'ipm', options: { eps: 2 } }));
  // ref - 2 (mean(honest) - ref) = (1, 1) - 2 ((2, 4) - (1, 1))
  assert.deepEqual(Array.from(flatten(ipm.craft({ own: reference, reference, honest, rng: createRng(1) }))), [-1, -5]);
  const scaling = modelAttack(createAttack({ name: 'scaling', options: { gamma: 1e3 } }));
  const own = [layer('w', [2], [1.5, 1])];
  assert.deepEqual(Array.from(flatten(scaling.craft({ own, reference, honest, rng: createRng(1) }))), [501, 1]);
});
