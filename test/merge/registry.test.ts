import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OptionError, parseOptions } from '../../src/merge/options.ts';
import { createStrategy, DEFAULT_STRATEGY, strategyNames } from '../../src/merge/registry.ts';
import { assertClose, cand, context, values, vec } from './fixtures.ts';

test('registry: every listed name creates a strategy, the default among them', () => {
  assert.ok(strategyNames().includes(DEFAULT_STRATEGY));
  for (const name of [
    'bristle+ldawa',
    'bristle',
    'ldawa',
    'mean',
    'median',
    'trimmed-mean',
    'krum',
    'multi-krum',
    'centered-clipping',
    'clipped-gossip',
    'balance',
  ]) {
    assert.ok(strategyNames().includes(name), name);
    assert.equal(typeof createStrategy(name), 'function');
    assert.equal(typeof createStrategy({ name }), 'function');
  }
});

test('registry: options reach the rule', () => {
  const s = createStrategy({ name: 'trimmed-mean', options: { b: 0 } });
  assertClose(values(s(vec([0]), [cand('a', vec([3])), cand('b', vec([6]))], context())), [3]);
});

test('registry: unknown name lists the known ones', () => {
  assert.throws(
    () => createStrategy('fedprox'),
    (e: unknown) =>
      e instanceof OptionError && /unknown merge strategy "fedprox"/.test(e.message) && /krum/.test(e.message),
  );
  assert.throws(() => createStrategy({ name: 'toString' }), OptionError);
});

test('registry: bad options are reported with the rule and the option', () => {
  assert.throws(() => createStrategy({ name: 'krum', options: { fx: 1 } }), /krum: unknown option "fx" \(known: f\)/);
  assert.throws(() => createStrategy({ name: 'krum', options: { f: 1.5 } }), /krum: option "f" must be an integer/);
  assert.throws(() => createStrategy({ name: 'trimmed-mean', options: { trim: 0.7 } }), /must be <= 0.5/);
  assert.throws(() => createStrategy({ name: 'centered-clipping', options: { tau: 0 } }), /"tau" must be > 0/);
  assert.throws(() => createStrategy({ name: 'mean', options: { weighting: 'size' } }), /one of "samples", "uniform"/);
  assert.throws(() => createStrategy({ name: 'balance', options: { alpha: '0.5' } }), /finite number, got "0.5"/);
  assert.throws(
    () => createStrategy({ name: 'bristle+ldawa', options: { N: 0 } }),
    /bristle\+ldawa: option "N" must be >= 1/,
  );
  assert.throws(
    () => createStrategy({ name: 'median', options: { trim: 0.1 } }),
    /median: unknown option "trim" \(known: none\)/,
  );
});

test('options: defaults fill in, non-objects are refused', () => {
  const spec = { k: { kind: 'number', default: 3, min: 0, doc: '' } } as const;
  assert.deepEqual(parseOptions('x', spec, {}), { k: 3 });
  assert.throws(() => parseOptions('x', spec, [1]), /options must be an object/);
  assert.throws(() => parseOptions('x', spec, { k: Number.NaN }), /finite number/);
});
