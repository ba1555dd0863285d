import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createRng } from '../../src/data/rng.ts';
import { admitCandidates } from '../../src/merge/guard.ts';
import { DEFAULT_VALUE_BOUND, firstOutOfBound } from '../../src/model/bounds.ts';
import type { Weights } from '../../src/model/weights.ts';
import { parseCodec } from '../../src/wire/codec-spec.ts';
import { decodeMessage, encodeMessage, type UpdateFields } from '../../src/wire/message.ts';
import { layerNorms, NormTracker } from '../../src/wire/norms.ts';
import { PublicCopies, PublicCopyEncoder } from '../../src/wire/public-copies.ts';
import { gossipVerdict, type ValidationContext, validateUpdate } from '../../src/wire/validate.ts';
import { perturb, schemaFor, smallModel, TASK } from './helpers.ts';

const model = smallModel(1);
const schema = schemaFor(model);

function scaled(w: Weights, factor: number): Weights {
  return w.map((l) => ({ ...l, values: l.values.map((v) => v * factor) }));
}

function filled(w: Weights, value: number): Weights {
  return w.map((l) => ({ ...l, values: new Float32Array(l.values.length).fill(value) }));
}

function message(fields: Partial<UpdateFields>, w: Weights): Uint8Array {
  return encodeMessage(
    {
      kind: 'keyframe',
      taskId: TASK,
      fingerprint: schema.fingerprint,
      seq: 3,
      base: 3,
      samples: 10,
      codec: parseCodec('fp32'),
      ...fields,
    },
    w,
  );
}

function reason(bytes: Uint8Array, ctx: ValidationContext): string {
  const result = validateUpdate(bytes, ctx);
  return result.ok ? 'ok' : result.reason;
}

test('value bound: keyframe values beyond +-1e4 are out-of-range (and penalised), the bound itself passes', () => {
  assert.equal(DEFAULT_VALUE_BOUND, 1e4);
  assert.equal(reason(message({}, filled(model, 1e4)), { schema }), 'ok');
  assert.equal(reason(message({}, filled(model, -1e4)), { schema }), 'ok');
  const huge = message({}, filled(model, 3e38));
  const result = validateUpdate(huge, { schema });
  assert.equal(result.ok ? 'ok' : result.reason, 'out-of-range');
  assert.equal(gossipVerdict(result), 'reject');
  assert.equal(reason(message({}, filled(model, 10_001)), { schema }), 'out-of-range');
  // Configurable, and off with Infinity.
  assert.equal(reason(message({}, filled(model, 200)), { schema, valueBound: 100 }), 'out-of-range');
  assert.equal(reason(huge, { schema, valueBound: Number.POSITIVE_INFINITY }), 'ok');
});

test('value bound on deltas: +-2 bound without the base; the copy a delta produces must stay within the bound', () => {
  const delta = (w: Weights) => message({ kind: 'delta', seq: 4, base: 3 }, w);
  assert.equal(reason(delta(filled(model, 2e4)), { schema }), 'ok');
  assert.equal(reason(delta(filled(model, 2.5e4)), { schema }), 'out-of-range');
  // On the receiver's copy at base 3 (values 9000), +2000 leaves the bound.
  const copy = filled(model, 9000);
  assert.equal(reason(delta(filled(model, 2000)), { schema, lastSeq: 3, publicCopy: copy }), 'out-of-range');
  assert.equal(reason(delta(filled(model, 500)), { schema, lastSeq: 3, publicCopy: copy }), 'ok');
});

test('NormTracker: warm-up, factor x median of the latest norm per sender, one vote per sender', () => {
  const t = new NormTracker([1, 1], { factor: 10, deltaFactor: 10, warmup: 3 });
  t.observe('a', 'delta', Float64Array.of(1, 0));
  t.observe('b', 'delta', Float64Array.of(2, 0));
  assert.equal(t.limit('delta', 0), undefined, 'warming up');
  t.observe('c', 'delta', Float64Array.of(3, 0));
  assert.equal(t.limit('delta', 0), 20);
  assert.equal(t.limit('delta', 1), undefined, 'a zero median gives no limit');
  assert.equal(t.limit('model', 0), undefined, 'kinds are separate');
  // A flood of tiny norms from one sender holds one vote.
  for (let i = 0; i < 100; i++) t.observe('evil', 'delta', Float64Array.of(1e-9, 0));
  assert.equal(t.limit('delta', 0), 15);
  t.forget('evil');
  assert.equal(t.limit('delta', 0), 20);
  const small = new NormTracker([1], { warmup: 1, maxSenders: 2 });
  small.observe('a', 'model', Float64Array.of(100));
  small.observe('b', 'model', Float64Array.of(1));
  small.observe('c', 'model', Float64Array.of(1));
  assert.equal(small.limit('model', 0), 10, 'oldest sender dropped');
  assert.throws(() => new NormTracker([1], { factor: 1 }), RangeError);
  assert.throws(() => new NormTracker([1], { deltaFactor: 0.5 }), RangeError);
  // Defaults: deltas vary with each peer's data far more than whole models do.
  const defaults = new NormTracker([1], { warmup: 1 });
  defaults.observe('a', 'delta', Float64Array.of(1));
  defaults.observe('a', 'model', Float64Array.of(1));
  assert.equal(defaults.limit('delta', 0), 1000);
  assert.equal(defaults.limit('model', 0), 10);
});

test('NormTracker: a limit is never below floorRms x sqrt(size), so near-zero layers do not get limits from noise', () => {
  // A peer that trained alone until it converged: its own steps and its bias norm are tiny.
  const t = new NormTracker([400, 10], { warmup: 2 });
  for (let i = 0; i < 2; i++) t.observe('self', 'delta', Float64Array.of(1e-6, 1e-7));
  for (let i = 0; i < 2; i++) t.observe('self', 'model', Float64Array.of(1, 1e-3));
  // 0.1 x sqrt(400) = 2 and 0.1 x sqrt(10); the factor x median would give 1e-3 / 1e-4 and 10 / 1e-2.
  assert.equal(t.limit('delta', 0), 2);
  assert.ok(Math.abs((t.limit('delta', 1) as number) - 0.1 * Math.sqrt(10)) < 1e-12);
  assert.equal(t.limit('model', 0), 10, 'above the floor, the factor x median decides');
  assert.ok(Math.abs((t.limit('model', 1) as number) - 0.1 * Math.sqrt(10)) < 1e-12);
  // A new neighbour's ordinary first step (RMS 0.01) passes; a blown-up one (RMS 5) does not.
  assert.ok(0.01 * Math.sqrt(400) <= (t.limit('delta', 0) as number));
  assert.ok(5 * Math.sqrt(400) > (t.limit('delta', 0) as number));
  const none = new NormTracker([400], { warmup: 1, floorRms: 0 });
  none.observe('self', 'delta', Float64Array.of(1e-6));
  assert.ok(Math.abs((none.limit('delta', 0) as number) - 1e-3) < 1e-12, 'floorRms 0: the old rule');
  assert.throws(() => new NormTracker([1], { floorRms: -1 }), /floorRms/);
  assert.throws(() => new NormTracker([1], { floorRms: Number.NaN }), /floorRms/);
});

test('norm bound: after warm-up a delta or keyframe far above the median is out-of-range; honest ones pass', () => {
  const rng = createRng(5);
  const receiver = new PublicCopies({ schema, norms: { warmup: 4 } });
  const encoders = ['a', 'b', 'c'].map(
    (id) => [id, new PublicCopyEncoder({ schema, codec: parseCodec('fp32'), keyframeInterval: 100 })] as const,
  );
  let x = model;
  for (let round = 0; round < 4; round++) {
    x = perturb(rng, x);
    for (const [id, enc] of encoders)
      assert.equal(receiver.receive(id, enc.encodeUpdate(perturb(rng, x), 10).bytes).kind, 'applied');
  }
  const [, a] = encoders[0];
  // 20,000x the step: the delta norm is far above the delta factor (1000) x the median.
  const copy = a.publicCopy() as Weights;
  const step = (w: Weights, k: number): Weights =>
    w.map((l, i) => ({ ...l, values: l.values.map((v, j) => v + k * (v - (copy[i]?.values[j] ?? 0))) }));
  const honest = perturb(rng, x);
  const hostile = step(honest, 20_000);
  const bytes = a.encodeUpdate(hostile, 10).bytes;
  const rejected = receiver.receive('a', bytes);
  assert.equal(rejected.kind, 'rejected');
  if (rejected.kind === 'rejected') assert.equal(rejected.reason, 'out-of-range', rejected.detail);
  // A keyframe whose model norm is 50x the others'.
  const kf = new PublicCopyEncoder({ schema, codec: parseCodec('fp32') });
  const big = receiver.receive('d', kf.encodeUpdate(scaled(x, 50), 10).bytes);
  assert.equal(big.kind === 'rejected' ? big.reason : big.kind, 'out-of-range');
  // A peer that restarted from a fresh model (another keyframe, smaller norm) is accepted.
  const fresh = new PublicCopyEncoder({ schema, codec: parseCodec('fp32'), resumeAfterSeq: 50 });
  assert.equal(receiver.receive('b', fresh.encodeUpdate(scaled(model, 0.5), 10).bytes).kind, 'applied');
  // Turned off: the same hostile keyframe is applied.
  const open = new PublicCopies({ schema, norms: false });
  assert.equal(
    open.receive('d', new PublicCopyEncoder({ schema, codec: parseCodec('fp32') }).encodeUpdate(scaled(x, 50), 1).bytes)
      .kind,
    'applied',
  );
});

test('own updates feed the norm limits: observeOwn', () => {
  const receiver = new PublicCopies({ schema, norms: { warmup: 2 } });
  const enc = new PublicCopyEncoder({ schema, codec: parseCodec('fp32') });
  const rng = createRng(9);
  receiver.observeOwn(enc.encodeUpdate(model, 1));
  receiver.observeOwn(enc.encodeUpdate(perturb(rng, model), 1));
  const limit = receiver.norms?.limit('model', 0);
  assert.ok(limit !== undefined && Math.abs(limit - 10 * layerNorms(model)[0]) / limit < 0.05);
});

test('apply() re-checks the bound on updates that did not come through validateUpdate', () => {
  const receiver = new PublicCopies({ schema });
  const update = decodeMessage(message({}, filled(model, 5e4)), schema);
  const result = receiver.apply('x', update);
  assert.equal(result.kind === 'rejected' ? result.reason : result.kind, 'out-of-range');
  assert.equal(receiver.get('x'), undefined);
});

// ---- property: nothing non-finite or out of range gets through the wire into a merge ----

/** Float32 values of every kind: ordinary, huge finite, NaN payloads, infinities, subnormals. */
const anyFloat32 = fc.oneof(
  fc.float({ min: -2, max: 2, noNaN: true }),
  fc.float(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3e38, -3e38, 1e4, 10_000.001),
  fc.integer({ min: 0, max: 0xffffffff }).map((bits) => new Float32Array(Uint32Array.of(bits).buffer)[0]),
);

/** A keyframe or fp32 delta whose payload floats are overwritten with arbitrary bit patterns. */
const poisoned = fc.record({
  kind: fc.constantFrom('keyframe', 'delta'),
  hits: fc.array(fc.tuple(fc.nat(), anyFloat32), { minLength: 1, maxLength: 6 }),
});

function poisonedBytes(kind: string, hits: readonly (readonly [number, number])[]): Uint8Array {
  const fields = kind === 'delta' ? { kind: 'delta' as const, seq: 4, base: 3 } : {};
  const bytes = message(fields, model);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Positions of every float32 value: after the header, each layer is u32 length + values.
  const positions: number[] = [];
  let at = 31 + TASK.length;
  for (const l of model) {
    at += 4;
    for (let i = 0; i < l.values.length; i++) positions.push(at + 4 * i);
    at += 4 * l.values.length;
  }
  for (const [where, value] of hits) view.setFloat32(positions[where % positions.length], value, true);
  return bytes;
}

for (const bound of [DEFAULT_VALUE_BOUND, Number.POSITIVE_INFINITY]) {
  test(`property: non-finite and out-of-range values never reach a merge (wire bound ${bound})`, () => {
    fc.assert(
      fc.property(poisoned, ({ kind, hits }) => {
        const receiver = new PublicCopies({ schema, valueBound: bound, norms: false });
        // The receiver holds the sender's copy at seq 3, so a delta applies on it.
        assert.equal(receiver.receive('s', message({}, model)).kind, 'applied');
        const result = receiver.receive('s', poisonedBytes(kind, hits));
        const copy = receiver.get('s');
        assert.ok(copy !== undefined);
        for (const l of copy.weights) {
          const bad = firstOutOfBound(l.values, bound);
          assert.equal(bad, -1, `${result.kind}: ${l.name}[${bad}] = ${l.values[bad]} reached the public copy`);
        }
        // Whatever the wire let through, the merge guard admits only values within the default bound.
        const candidate = { peer: 's', seq: copy.seq, weights: copy.weights, samples: 1 };
        const { admitted, rejected } = admitCandidates(model, [candidate], [0, 1, 2, 3]);
        for (const c of admitted) {
          for (const l of c.weights) assert.equal(firstOutOfBound(l.values, DEFAULT_VALUE_BOUND), -1);
        }
        assert.equal(admitted.length + rejected.length, 1);
      }),
      { seed: 20261214, numRuns: 300 },
    );
  });
}
