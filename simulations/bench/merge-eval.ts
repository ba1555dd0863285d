/**
 * Cost of one `bristle+ldawa` merge with real tfjs evaluation (the default MLP, 784-256-128-10,
 * on the wasm backend), with and without the first-layer split (MergeContext.linearInput,
 * Trainer.mergeScoring), alternated in one process: `plain` scores every model, mixes
 * included, by a full forward pass (Trainer.evaluateWeights); `split` is what Peers and the
 * lockstep runner use. Candidates are own plus Gaussian perturbations of growing size and
 * one negated copy (so the gates and leave-group-out have something to reject); the
 * validation inputs are random (the cost does not depend on them). Each mode gets its own
 * strategy instance, so both see the same trust-memory history.
 *
 * Usage: node simulations/bench/merge-eval.ts [--candidates 29] [--validation 140] [--rounds 5]
 */
import { parseArgs } from 'node:util';
import { createRng } from '../../src/data/rng.ts';
import { bristleLdawaStrategy } from '../../src/merge/bristle-ldawa.ts';
import { mergeWithReport } from '../../src/merge/report.ts';
import type { Candidate, ClassScores, MergeContext } from '../../src/merge/types.ts';
import { buildModel, getWeights } from '../../src/model/model.ts';
import { DEFAULT_MLP } from '../../src/model/spec.ts';
import { mapLayers, type Weights } from '../../src/model/weights.ts';
import { initBackend } from '../../src/train/backend.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { median } from './suite/alternate.ts';

const { values } = parseArgs({
  options: {
    candidates: { type: 'string', default: '29' },
    validation: { type: 'string', default: '140' },
    rounds: { type: 'string', default: '5' },
  },
});
const candidates = Number(values.candidates);
const samples = Number(values.validation);
const rounds = Number(values.rounds);
for (const [name, v] of [
  ['candidates', candidates],
  ['validation', samples],
  ['rounds', rounds],
] as const) {
  if (!(Number.isInteger(v) && v >= 1)) throw new Error(`--${name} must be an integer >= 1`);
}

await initBackend('wasm');
const rng = createRng(1);
const model = buildModel(DEFAULT_MLP, [28, 28, 1], 10, 1);
const trainer = new Trainer(model);
const data = {
  x: Float32Array.from({ length: samples * 784 }, () => rng.next()),
  y: Uint8Array.from({ length: samples }, (_, i) => i % 10),
  featureShape: [28, 28, 1],
  numClasses: 10,
};
trainer.train(data, { steps: 20 });
const own = getWeights(model);
const offered: Candidate[] = Array.from({ length: candidates }, (_, j) => {
  const weights: Weights =
    j === candidates - 1 && candidates > 1
      ? mapLayers(own, (l) => Float32Array.from(l.values, (v) => -v))
      : mapLayers(own, (l) => Float32Array.from(l.values, (v) => v + (0.01 + 0.002 * j) * rng.normal()));
  return { peer: `p${j}`, seq: 1, samples: 100, weights };
});

type Mode = 'plain' | 'split';
const strategies = { plain: bristleLdawaStrategy(), split: bristleLdawaStrategy() };
const ms: Record<Mode, number[]> = { plain: [], split: [] };
const evaluations: Record<Mode, number[]> = { plain: [], split: [] };
const ratios: number[] = [];
for (let r = 0; r < rounds; r++) {
  const took: Partial<Record<Mode, number>> = {};
  for (const mode of ['plain', 'split'] as const) {
    const scoring = trainer.mergeScoring(data);
    let count = 0;
    const counted =
      (f: (w: Weights) => ClassScores) =>
      (w: Weights): ClassScores => {
        count++;
        return f(w);
      };
    const ctx: MergeContext = {
      evaluate: counted(mode === 'plain' ? (w) => trainer.evaluateWeights(w, data) : scoring.evaluate),
      ...(mode === 'split' && scoring.linearInput !== undefined ? { linearInput: scoring.linearInput } : {}),
      familiarClasses: [0, 1, 2, 3],
      numClasses: 10,
      outputLayer: model.outputLayer,
      ownSamples: 100,
      round: r,
      rng: createRng(r),
    };
    const start = performance.now();
    mergeWithReport(strategies[mode], own, offered, ctx);
    took[mode] = performance.now() - start;
    ms[mode].push(took[mode]);
    evaluations[mode].push(count);
  }
  ratios.push((took.plain as number) / (took.split as number));
}
for (const mode of ['plain', 'split'] as const) {
  console.log(
    `${mode.padEnd(5)}  median ${median(ms[mode]).toFixed(0).padStart(6)} ms per merge, ${median(evaluations[mode])} full forward passes (ctx.evaluate calls)`,
  );
}
console.log(
  `plain / split: median ratio ${median(ratios).toFixed(2)} over ${rounds} alternated rounds (${candidates} candidates, ${samples} validation samples)`,
);
trainer.dispose();
model.dispose();
