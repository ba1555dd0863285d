import assert from 'node:assert/strict';
import { test } from 'node:test';
import { centeredClippingStrategy, medianOf } from '../../src/merge/centered-clipping.ts';
import { meanStrategy } from '../../src/merge/mean.ts';
import { OptionError } from '../../src/merge/options.ts';
import { createStrategy } from '../../src/merge/registry.ts';
import { assertClose, cand, context, values, vec } from './fixtures.ts';

test('centered clipping, tau "auto": the radius is the median candidate distance to own', () => {
  assert.equal(medianOf([3, 1, 2]), 2);
  assert.equal(medianOf([4, 1, 3, 2]), 2.5);
  assert.equal(medianOf([]), 0);
  // Distances to own (0, 0): 1, 2 and 10 -> tau = 2. One iteration:
  // v = (1/4) (0 + (1, 0) + (0, 2) + (10, 0) * 2/10) = (3/4, 2/4).
  const cands = [cand('a', vec([1, 0])), cand('b', vec([0, 2])), cand('c', vec([10, 0]))];
  const auto = centeredClippingStrategy({ tau: 'auto', L: 1 })(vec([0, 0]), cands, context());
  assertClose(values(auto), [0.75, 0.5]);
  // Same as the fixed radius 2, and unlike mean (which the default tau 10 equals here).
  assertClose(values(centeredClippingStrategy({ tau: 2, L: 1 })(vec([0, 0]), cands, context())), [0.75, 0.5]);
  const mean = meanStrategy({ weighting: 'uniform' })(vec([0, 0]), cands, context());
  assertClose(values(centeredClippingStrategy({ L: 1 })(vec([0, 0]), cands, context())), values(mean));
});

test('centered clipping, tau "auto": a far candidate moves own by at most tau/n per iteration, at any scale', () => {
  for (const scale of [1e-3, 1, 1e3]) {
    const cands = [cand('a', vec([scale, 0])), cand('b', vec([0, scale])), cand('far', vec([1e6 * scale, 0]))];
    const out = values(centeredClippingStrategy({ tau: 'auto', L: 1 })(vec([0, 0]), cands, context()));
    // tau = scale: each of the 4 inputs moves v by at most scale / 4.
    assert.ok(Math.hypot(out[0], out[1]) <= (3 * scale) / 4 + 1e-9 * scale, `${out} at ${scale}`);
  }
});

test('centered clipping: tau is a number > 0 or "auto"; the registry passes "auto" through', () => {
  assert.throws(() => centeredClippingStrategy({ tau: 'median' as never }), OptionError);
  assert.throws(() => centeredClippingStrategy({ tau: 'median' as never }), /must be a number > 0 or "auto"/);
  assert.throws(() => centeredClippingStrategy({ tau: 0 }), /must be > 0/);
  assert.throws(() => centeredClippingStrategy({ tau: 'auto', L: 0 }), /"L" must be >= 1/);
  assert.throws(() => centeredClippingStrategy({ tau: 'auto', bogus: 1 } as never), /unknown option "bogus"/);
  // Distances 2 and 4 -> tau 3: v = (0 + 2 + 4 * 3/4) / 3.
  const strategy = createStrategy({ name: 'centered-clipping', options: { tau: 'auto', L: 1 } });
  assertClose(values(strategy(vec([0]), [cand('a', vec([2])), cand('b', vec([4]))], context())), [5 / 3]);
});
