import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAttack } from '../../src/attacks/registry.ts';
import { createRng } from '../../src/data/rng.ts';
import { createStrategy } from '../../src/merge/registry.ts';
import type { Candidate, MergeContext } from '../../src/merge/types.ts';
import { flatten, layer, type Weights } from '../../src/model/weights.ts';

const SIZE = 200;
const HONEST = 8;
const ATTACKERS = 3;

function distance(a: Weights, b: Weights): number {
  const x = flatten(a);
  const y = flatten(b);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - y[i]) ** 2;
  return Math.sqrt(s);
}

/** Honest peers hold the target plus small noise; attackers all send one crafted model. */
function scenario(attackName: string, options: Record<string, unknown> = {}) {
  const rng = createRng(17);
  const target = [
    layer(
      'w',
      [SIZE],
      Float32Array.from({ length: SIZE }, () => rng.normal()),
    ),
  ];
  const near = () => target.map((l) => ({ ...l, values: l.values.map((v) => v + 0.05 * rng.normal()) }));
  const own = near();
  const honest = Array.from({ length: HONEST }, near);
  const attack = createAttack({ name: attackName, options });
  if (attack.kind !== 'model') throw new Error('model attack expected');
  const malicious = attack.craft({ own: near(), reference: target, honest: [own, ...honest], rng: rng.fork('attack') });
  const candidates: Candidate[] = [
    ...honest.map((weights, i) => ({ peer: `h${i}`, seq: 1, weights, samples: 100 })),
    ...Array.from({ length: ATTACKERS }, (_, i) => ({ peer: `x${i}`, seq: 1, weights: malicious, samples: 100 })),
  ];
  const ctx: MergeContext = {
    evaluate: () => ({ f1: new Float64Array(1), accuracy: new Float64Array(1), overallAccuracy: 0, loss: 0 }),
    familiarClasses: [],
    numClasses: 1,
    outputLayer: { kernel: 'w' },
    ownSamples: 100,
    round: 10,
    rng: createRng(1),
  };
  return { target, own, candidates, ctx };
}

for (const [attack, options] of [
  ['gaussian-model', { sigma: 10 }],
  ['sign-flip', { mode: 'model' }],
  ['scaling', { gamma: 50 }],
] as const) {
  test(`robust rules stay near the honest models under ${attack}; mean does not`, () => {
    const { target, own, candidates, ctx } = scenario(attack, options);
    const honestSpread = distance(own, target);
    const meanError = distance(createStrategy('mean')(own, candidates, ctx), target);
    // n = 12 inputs with 3 colluders: trimmed mean needs b >= 3 (its default trim 0.2 gives
    // b = 2 and is pulled away: shown below), Krum's default f = 4 already covers them.
    const robust = [
      { name: 'median' },
      { name: 'trimmed-mean', options: { b: ATTACKERS } },
      { name: 'krum' },
      { name: 'multi-krum' },
      { name: 'clipped-gossip' },
      { name: 'balance' },
      // tau is scale-dependent: set near the honest distances here (~1).
      { name: 'centered-clipping', options: { tau: 1 } },
    ];
    for (const spec of robust) {
      const name = JSON.stringify(spec);
      const error = distance(createStrategy(spec)(own, candidates, ctx), target);
      assert.ok(error < 2 * honestSpread, `${name}: ${error} vs honest spread ${honestSpread}`);
      assert.ok(error < meanError, `${name}: ${error} not better than mean ${meanError}`);
    }
    const underTrimmed = distance(createStrategy('trimmed-mean')(own, candidates, ctx), target);
    assert.ok(underTrimmed > 2 * honestSpread, `trimmed-mean with b = 2 < 3 attackers: ${underTrimmed}`);
  });
}
