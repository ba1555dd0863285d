/**
 * Flip signature (bristle+ldawa `flip`): the class-by-output push matrix, the signature
 * that tells a label flipper's push (one class's inputs to another output) from an honest
 * model's (a class's inputs to their own label), and the stage that rejects on it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bristleLdawaStrategy } from '../../src/merge/bristle-ldawa.ts';
import { classPush, flipScores, flipSignature, SignatureMemory } from '../../src/merge/flip-signature.ts';
import { mergeWithReport } from '../../src/merge/report.ts';
import type { ClassScores } from '../../src/merge/types.ts';
import type { Weights } from '../../src/model/weights.ts';
import { cand, context, vec } from './fixtures.ts';

const K = 4;
/** Two validation samples per class. */
const LABELS = [0, 0, 1, 1, 2, 2, 3, 3];

/** Logits of a toy model whose layer holds K x K values: a sample of class y gets row y. */
function logitsOf(rows: readonly number[]): Float32Array {
  const out = new Float32Array(LABELS.length * K);
  LABELS.forEach((y, i) => {
    for (let o = 0; o < K; o++) out[i * K + o] = rows[y * K + o] as number;
  });
  return out;
}

/** K x K zeros with `cells` ([class, output, value]) added. */
function rowsWith(cells: readonly (readonly [number, number, number])[]): number[] {
  const rows = new Array<number>(K * K).fill(0);
  for (const [y, o, v] of cells) rows[y * K + o] += v;
  return rows;
}

const START = logitsOf(rowsWith([]));
/** Trained on classes 0 and 1 with their own labels (and a little of output 0 everywhere). */
const HONEST = rowsWith([
  [0, 0, 2],
  [1, 1, 2],
  [2, 0, 0.5],
  [3, 0, 0.5],
]);
/** Trained class 2's inputs towards output 1. */
const FLIPPER = rowsWith([
  [2, 1, 3],
  [2, 2, -3],
]);

/**
 * An honest specialist of output 1 whose push on output 1 is largest on class 2's inputs
 * (its start model already predicted class 1 well), and that still pushes class 1's own.
 */
const SPECIALIST = rowsWith([
  [2, 1, 3],
  [1, 1, 2],
]);

test("flipScores: the target push (the flagged output's push on its own class) is low for a flipper, high for a specialist", () => {
  const flipper = flipScores(logitsOf(FLIPPER), START, LABELS, K);
  assert.equal(flipper.signature, flipSignature(logitsOf(FLIPPER), START, LABELS, K));
  // Column 1 after centring: (-0.75, -0.75, 2.25, -0.75); rms sqrt(13.5 / 16).
  assert.ok(Math.abs(flipper.target - -0.75 / Math.sqrt(13.5 / 16)) < 1e-12);
  const specialist = flipScores(logitsOf(SPECIALIST), START, LABELS, K);
  // Column 1 after both centrings: (-0.9375, 0.5625, 1.3125, -0.9375); the matrix's rms is
  // 0.5625, its largest diagonal entry S[1][1] = 0.5625 and off-diagonal one S[2][1].
  assert.ok(Math.abs(specialist.signature - (1.3125 - 0.5625) / 0.5625) < 1e-12, `signature ${specialist.signature}`);
  assert.ok(Math.abs(specialist.target - 1) < 1e-12, `target ${specialist.target}`);
  assert.ok(Number.isNaN(flipScores(START, START, LABELS, K).target));
});

test('classPush: per-class mean logit change, centred over outputs, then over classes per output', () => {
  const { push, present } = classPush(logitsOf(FLIPPER), START, LABELS, K);
  assert.deepEqual(present, [true, true, true, true]);
  // Row 2 moved +3 on output 1 and -3 on output 2; centring over the 4 classes leaves 3/4 of it.
  assert.equal(push[2 * K + 1], 2.25);
  assert.equal(push[2 * K + 2], -2.25);
  assert.equal(push[0 * K + 1], -0.75);
  // A shift of every output of a sample (softmax ignores it) and a push of one output on
  // every class (a bias) leave no trace.
  const biased = rowsWith([0, 1, 2, 3].flatMap((y) => [[y, 3, 5] as const, [y, 0, 1] as const, [y, 1, 1] as const]));
  const none = classPush(logitsOf(biased), START, LABELS, K).push;
  assert.ok(none.every((v) => Math.abs(v) < 1e-12));
});

test('flipSignature: above 0 for a flipper, below 0 for an honest specialist; NaN when it cannot tell', () => {
  const flipped = flipSignature(logitsOf(FLIPPER), START, LABELS, K);
  const honest = flipSignature(logitsOf(HONEST), START, LABELS, K);
  assert.ok(flipped > 2, `flipper ${flipped}`);
  assert.ok(honest < 0, `honest ${honest}`);
  // The same push on top of a trained start model: the signature is of the change only.
  const trained = logitsOf(HONEST);
  const both = logitsOf(HONEST.map((v, i) => v + (FLIPPER[i] as number)));
  assert.equal(flipSignature(both, trained, LABELS, K), flipped);
  // One class in V, no push at all, or non-finite logits: no verdict.
  assert.ok(Number.isNaN(flipSignature(new Float32Array(2 * K), new Float32Array(2 * K), [1, 1], K)));
  assert.ok(Number.isNaN(flipSignature(START, START, LABELS, K)));
  const broken = logitsOf(FLIPPER);
  broken[5] = Number.NaN;
  assert.ok(Number.isNaN(flipSignature(broken, START, LABELS, K)));
  assert.throws(() => flipSignature(new Float32Array(3), START, LABELS, K), /logits must hold 8 x 4/);
});

/** Scores of a toy model on the 8 samples: only the logits matter to the stage. */
function evaluate(w: Weights): ClassScores {
  const f1 = new Float64Array(K).fill(1);
  return { f1, accuracy: f1, overallAccuracy: 1, loss: 0, sampleLogits: logitsOf(Array.from(w[0].values)) };
}

test('bristle+ldawa flip: a label flipper is rejected as flipped all-to-all; off by default with D neighbours', () => {
  const ctx = context({
    evaluate,
    numClasses: K,
    familiarClasses: [0, 1],
    reference: vec(rowsWith([])),
    validationSplit: { labels: LABELS, privateCount: 0 },
    round: 1,
  });
  const others = { rho: 0, gate: 0, far: 0, kappa: 0, passes: 0, sampleCap: 0 } as const;
  const own = vec(rowsWith([[3, 3, 2]]));
  const offered = [cand('a', vec(HONEST)), cand('b', vec(rowsWith([[2, 2, 2]]))), cand('flip', vec(FLIPPER))];
  const rejected = (options: object, neighbours: number | 'all') =>
    mergeWithReport(bristleLdawaStrategy({ ...others, ...options }), own, offered, {
      ...ctx,
      neighbours,
    }).report?.rejected.map((r) => [r.peer, r.reason]);
  assert.deepEqual(rejected({}, 'all'), [['flip', 'flipped']]);
  assert.deepEqual(rejected({}, 8), []);
  assert.deepEqual(rejected({ flip: 'reject' }, 8), [['flip', 'flipped']]);
  assert.deepEqual(rejected({ flip: 'off' }, 'all'), []);
  // Above the threshold only: the flipper's signature is about 2.4.
  assert.deepEqual(rejected({ flipAbove: 3 }, 'all'), []);
  // flipOwn spares a flagged candidate that pushes the flagged output's own class: the
  // specialist (signature 1.33, target 1), not the flipper (target -0.82).
  const withSpecialist = [...offered, cand('spec', vec(SPECIALIST))];
  const judged = (options: object) =>
    mergeWithReport(bristleLdawaStrategy({ ...others, flipAbove: 1, ...options }), own, withSpecialist, {
      ...ctx,
      neighbours: 'all',
    }).report?.rejected.map((r) => r.peer);
  assert.deepEqual(judged({}), ['flip', 'spec']);
  assert.deepEqual(judged({ flipOwn: 0.9 }), ['flip']);
  assert.deepEqual(judged({ flipOwn: 1.2 }), ['flip', 'spec']);
  // Without the round's start model or labels the stage cannot run.
  const noReference = mergeWithReport(bristleLdawaStrategy(others), own, offered, {
    ...ctx,
    reference: undefined,
  }).report;
  assert.deepEqual(noReference?.rejected, []);
});

test('SignatureMemory: the median of the last few finite signatures per sender, bounded in senders', () => {
  const memory = new SignatureMemory(3, 2);
  assert.equal(memory.add('a', 1), 1);
  assert.equal(memory.add('a', 5), 3);
  assert.equal(memory.add('a', 4), 4);
  // Keeps the last 3: [5, 4, 0].
  assert.equal(memory.add('a', 0), 4);
  assert.ok(Number.isNaN(memory.add('a', Number.NaN)));
  assert.equal(memory.add('a', 0), 0);
  // Capacity 2: a third sender makes it forget the least recently judged one ('b', judged before 'a').
  memory.add('b', 9);
  memory.add('a', 1);
  memory.add('c', 7);
  assert.equal(memory.add('b', 1), 1);
});
