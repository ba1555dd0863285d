/**
 * Re-parameterization (ALGORITHMS.md §3): the fused RepVGG conv equals the train-time block
 * at inference, and one RepOpt step of the plain conv equals one step of the three-branch
 * block re-fused afterwards. Run on the wasm backend (the default training backend).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '../../src/data/rng.ts';
import { buildModel, type NamedVariable } from '../../src/model/model.ts';
import {
  type BatchNormParams,
  fuseRepVGG,
  type RepOptScales,
  repOptInit,
  repOptMultiplier,
  repOptScale,
  uniformScales,
} from '../../src/model/reparam.ts';
import {
  type BatchNormState,
  type BlockStride,
  fuseBlock,
  plainConv,
  type RepVGGBlockParams,
  repvggForward,
} from '../../src/model/repvgg-block.ts';
import type { CnnSpec } from '../../src/model/spec.ts';
import { initBackend } from '../../src/train/backend.ts';
import { Sgd, type SgdOptions } from '../../src/train/sgd.ts';

const TOLERANCE = 1e-4;
const CENTRE = 4;

before(async () => {
  await initBackend('wasm');
});

function normals(rng: Rng, size: number, scale = 1): Float32Array {
  return Float32Array.from({ length: size }, () => rng.normal() * scale);
}

function uniforms(rng: Rng, size: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: size }, () => lo + (hi - lo) * rng.next());
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** BN with statistics far from the identity, so a wrong fuse cannot pass by accident. */
function randomBn(rng: Rng, channels: number): BatchNormState {
  return {
    gamma: tf.tensor1d(uniforms(rng, channels, 0.5, 1.5)),
    beta: tf.tensor1d(normals(rng, channels, 0.5)),
    movingMean: tf.tensor1d(normals(rng, channels, 0.5)),
    movingVariance: tf.tensor1d(uniforms(rng, channels, 0.3, 2)),
    epsilon: 1e-3,
  };
}

function randomBlock(seed: number, cin: number, cout: number, stride: BlockStride, identity: boolean) {
  const rng = createRng(seed);
  const p: RepVGGBlockParams = {
    inChannels: cin,
    outChannels: cout,
    stride,
    kernel3: tf.tensor4d(normals(rng, 9 * cin * cout, 0.4), [3, 3, cin, cout]),
    bn3: randomBn(rng, cout),
    kernel1: tf.tensor4d(normals(rng, cin * cout, 0.4), [1, 1, cin, cout]),
    bn1: randomBn(rng, cout),
    bnIdentity: identity ? randomBn(rng, cout) : undefined,
  };
  return { p, rng };
}

const STRUCTURAL_CASES = [
  { cin: 3, cout: 5, stride: 1, identity: false },
  { cin: 4, cout: 4, stride: 1, identity: true },
  { cin: 4, cout: 4, stride: 1, identity: false },
  { cin: 3, cout: 6, stride: 2, identity: false },
] as const;

for (const { cin, cout, stride, identity } of STRUCTURAL_CASES) {
  test(`RepVGG: fused conv equals the block at inference (${cin}->${cout}, stride ${stride}, identity ${identity})`, () => {
    for (const seed of [1, 2, 3]) {
      tf.tidy(() => {
        const { p, rng } = randomBlock(seed, cin, cout, stride, identity);
        // Odd and even sizes: stride 2 must align the 3x3 and 1x1 centres on both.
        const x = tf.tensor4d(normals(rng, 2 * 7 * 8 * cin), [2, 7, 8, cin]);
        const block = repvggForward(x, p, { training: false });
        const fused = plainConv(x, fuseBlock(p), stride);
        assert.deepEqual(fused.shape, block.shape);
        const diff = maxAbsDiff(fused.dataSync(), block.dataSync());
        assert.ok(diff < TOLERANCE, `seed ${seed}: max |fused - block| = ${diff}`);
        // The comparison is not vacuous: the output is far from zero.
        assert.ok(tf.max(tf.abs(block)).dataSync()[0]! > 0.5);
      });
    }
  });
}

test('RepVGG: training mode normalises with batch statistics, inference mode with moving ones', () => {
  tf.tidy(() => {
    const { p, rng } = randomBlock(7, 4, 4, 1, true);
    const x = tf.tensor4d(normals(rng, 4 * 6 * 6 * 4, 2), [4, 6, 6, 4]);
    // Each batch-normalised branch has per-channel batch mean beta, so the sum has the sum of betas.
    const trained = repvggForward(x, p, { training: true });
    const channelMeans = tf.mean(trained, [0, 1, 2]).dataSync();
    const betas = tf.addN([p.bn3.beta, p.bn1.beta, (p.bnIdentity as BatchNormState).beta]).dataSync();
    assert.ok(maxAbsDiff(channelMeans, betas) < TOLERANCE, 'batch means');
    const inference = repvggForward(x, p, { training: false });
    assert.ok(maxAbsDiff(trained.dataSync(), inference.dataSync()) > 0.1, 'modes must differ');
  });
});

test('RepVGG: the block rejects an identity branch it cannot have', () => {
  const { p } = randomBlock(1, 3, 5, 1, false);
  const bad = { ...p, bnIdentity: p.bn3 };
  assert.throws(() => fuseBlock(bad), /identity branch needs in == out channels and stride 1/);
  assert.throws(() => repvggForward(tf.zeros([1, 4, 4, 2]) as tf.Tensor4D, p, { training: false }), /input must be/);
});

test('fuseRepVGG matches a hand computation on one channel', () => {
  const eps = 0.01;
  const bn = (gamma: number, beta: number, mean: number, variance: number): BatchNormParams => ({
    gamma: Float32Array.of(gamma),
    beta: Float32Array.of(beta),
    mean: Float32Array.of(mean),
    variance: Float32Array.of(variance),
    epsilon: eps,
  });
  const k3 = Float32Array.of(1, -2, 3, 0.5, 4, -1, 2, 0, -3);
  const bn3 = bn(2, 0.5, 1, 3);
  const bn1 = bn(0.5, -1, -2, 0.99);
  const bnId = bn(3, 0.25, 0.5, 8.99);
  const fused = fuseRepVGG({
    inChannels: 1,
    outChannels: 1,
    kernel3: k3,
    bn3,
    kernel1: Float32Array.of(-2),
    bn1,
    bnIdentity: bnId,
  });
  // scale = gamma / sqrt(var + eps): 2/sqrt(3.01), 0.5/1 = 0.5, 3/3 = 1.
  const sc3 = 2 / Math.sqrt(3.01);
  const expectedKernel = Array.from(k3, (k, w) => k * sc3 + (w === CENTRE ? -2 * 0.5 + 1 * 1 : 0));
  // bias = sum of (beta - mean * scale).
  const expectedBias = 0.5 - 1 * sc3 + (-1 - -2 * 0.5) + (0.25 - 0.5 * 1);
  assert.ok(maxAbsDiff(fused.kernel, expectedKernel) < 1e-6, `${fused.kernel} vs ${expectedKernel}`);
  assert.ok(Math.abs(fused.bias[0] - expectedBias) < 1e-6);
  // Without the identity the centre loses exactly its identity term (1 * scale 1).
  const noId = fuseRepVGG({ inChannels: 1, outChannels: 1, kernel3: k3, bn3, kernel1: Float32Array.of(-2), bn1 });
  assert.ok(Math.abs(fused.kernel[CENTRE] - noId.kernel[CENTRE] - 1) < 1e-6);
});

// --- RepOpt: plain conv with gradient multipliers vs the three-branch block ---

interface RepOptCase {
  readonly cin: number;
  readonly cout: number;
  readonly steps: number;
  readonly momentum: number;
}

const LEARNING_RATE = 0.1;

function named(name: string, variable: tf.Variable): NamedVariable {
  return { name, shape: variable.shape, variable, trainable: true };
}

/** Plain-conv weights of the three-branch block: s*W3 + t*pad(W1) + diag(beta) at the centre. */
function refuse(cin: number, cout: number, w3: Float32Array, w1: Float32Array, sc: RepOptScales, beta?: Float32Array) {
  const k = repOptInit(cin, cout, w3, w1, { ...sc, identity: false });
  if (beta) for (let i = 0; i < cin; i++) k[(CENTRE * cin + i) * cout + i] = k[(CENTRE * cin + i) * cout + i] + beta[i];
  return k;
}

/**
 * Trains the plain conv (with or without the RepOpt multiplier) and the three-branch block
 * side by side and returns both plain kernels afterwards, plus the starting kernel.
 */
function repOptRun(seed: number, c: RepOptCase, useMultiplier = true) {
  return tf.tidy(() => {
    const { cin, cout } = c;
    const identity = cin === cout;
    const rng = createRng(seed);
    const sc: RepOptScales = { s: uniforms(rng, cout, 0.5, 1.5), t: uniforms(rng, cout, 0.5, 1.5), identity };
    const w3Init = normals(rng, 9 * cin * cout, 0.3);
    const w1Init = normals(rng, cin * cout, 0.3);
    const x = tf.tensor4d(normals(rng, 2 * 5 * 6 * cin), [2, 5, 6, cin]);
    const r = tf.tensor4d(normals(rng, 2 * 5 * 6 * cout), [2, 5, 6, cout]);
    const loss = (y: tf.Tensor): tf.Scalar => tf.mean(tf.mul(tf.square(y), r));
    const options: SgdOptions = { learningRate: LEARNING_RATE, momentum: c.momentum, weightDecay: 0 };
    const kernelShape = [3, 3, cin, cout];

    // Plain conv, initialised as RepOpt does (identity = beta 1 at the centre diagonal).
    const k0 = repOptInit(cin, cout, w3Init, w1Init, sc);
    const k = tf.variable(tf.tensor(k0, kernelShape));
    const multipliers = new Map<string, tf.Tensor>();
    if (useMultiplier) multipliers.set('k', tf.tensor(repOptMultiplier(cin, cout, sc), kernelShape));
    const plainSgd = new Sgd(options, [named('k', k)], multipliers);
    const plainLoss = () => loss(tf.conv2d(x, k as tf.Variable<tf.Rank.R4>, 1, 'same'));

    // Three branches: conv(x, s*W3) + conv(x, t*W1) + beta * x, with s and t constant.
    const w3 = tf.variable(tf.tensor4d(w3Init, [3, 3, cin, cout]));
    const w1 = tf.variable(tf.tensor4d(w1Init, [1, 1, cin, cout]));
    const beta = identity ? tf.variable(tf.ones([cin])) : undefined;
    const s = tf.tensor1d(sc.s);
    const t = tf.tensor1d(sc.t);
    const branchVars = [named('w3', w3), named('w1', w1), ...(beta ? [named('beta', beta)] : [])];
    const branchSgd = new Sgd(options, branchVars, new Map());
    const branchLoss = () => {
      let y = tf.add(
        tf.conv2d(x, tf.mul(w3, s) as tf.Tensor4D, 1, 'same'),
        tf.conv2d(x, tf.mul(w1, t) as tf.Tensor4D, 1, 'same'),
      );
      if (beta) y = tf.add(y, tf.mul(x, beta));
      return loss(y);
    };

    const step = (fn: () => tf.Scalar, vars: readonly NamedVariable[], sgd: Sgd) => {
      const { grads } = tf.variableGrads(
        fn,
        vars.map((v) => v.variable),
      );
      sgd.apply(new Map(vars.map((v) => [v.variable, grads[v.variable.name]])));
    };
    // Same function before training, so the gradients start from the same point.
    assert.ok(Math.abs(plainLoss().dataSync()[0]! - branchLoss().dataSync()[0]!) < TOLERANCE);
    for (let i = 0; i < c.steps; i++) {
      step(plainLoss, [named('k', k)], plainSgd);
      step(branchLoss, branchVars, branchSgd);
    }
    const plain = k.dataSync() as Float32Array;
    const branches = refuse(
      cin,
      cout,
      w3.dataSync() as Float32Array,
      w1.dataSync() as Float32Array,
      sc,
      beta?.dataSync() as Float32Array | undefined,
    );
    plainSgd.dispose();
    branchSgd.dispose();
    for (const v of [k, w3, w1, ...(beta ? [beta] : [])]) v.dispose();
    return { k0, plain, branches };
  });
}

const REPOPT_CASES: readonly RepOptCase[] = [
  { cin: 3, cout: 5, steps: 1, momentum: 0 },
  { cin: 4, cout: 4, steps: 1, momentum: 0 },
  { cin: 3, cout: 5, steps: 2, momentum: 0.9 },
  { cin: 4, cout: 4, steps: 2, momentum: 0.9 },
];

for (const c of REPOPT_CASES) {
  test(`RepOpt: plain conv with multiplier = re-fused three-branch block (${c.cin}->${c.cout}, ${c.steps} step(s), momentum ${c.momentum})`, () => {
    for (const seed of [11, 12, 13]) {
      const { k0, plain, branches } = repOptRun(seed, c);
      const moved = maxAbsDiff(plain, k0);
      assert.ok(moved > 1e-2, `seed ${seed}: training barely moved the kernel (${moved})`);
      const diff = maxAbsDiff(plain, branches);
      assert.ok(diff < TOLERANCE, `seed ${seed}: max |plain - re-fused| = ${diff} (moved ${moved})`);
    }
  });
}

test('RepOpt control: without the multiplier the plain conv does not follow the block', () => {
  const { plain, branches } = repOptRun(11, { cin: 4, cout: 4, steps: 1, momentum: 0 }, false);
  assert.ok(maxAbsDiff(plain, branches) > 10 * TOLERANCE);
});

test('buildModel with reparam "repopt" has RepOpt multipliers for every conv, "none" has none', () => {
  const spec: CnnSpec = {
    kind: 'cnn',
    stages: [
      [4, 4, 4],
      [6, 6],
    ],
    dense: 8,
    reparam: 'repopt',
  };
  const model = buildModel(spec, [8, 8, 2], 3, 5);
  try {
    let cin = 2;
    spec.stages.forEach((stage, si) => {
      stage.forEach((cout, bi) => {
        const name = `conv${si}_${bi}/kernel`;
        const m = model.gradMultipliers.get(name);
        assert.ok(m, `${name} has no multiplier`);
        assert.deepEqual(m.shape, [3, 3, cin, cout]);
        const values = m.dataSync();
        const identity = cin === cout;
        const scales = uniformScales(cout, repOptScale(bi), repOptScale(bi), identity);
        assert.deepEqual(Array.from(values), Array.from(repOptMultiplier(cin, cout, scales)), name);
        // Independently: s = t = 1 for the first block of a stage, sqrt(2 / i) after it.
        const s2 = bi === 0 ? 1 : 2 / bi;
        for (let w = 0; w < 9; w++) {
          for (let i = 0; i < cin; i++) {
            for (let o = 0; o < cout; o++) {
              const want = s2 + (w === CENTRE ? s2 + (identity && i === o ? 1 : 0) : 0);
              const got = values[(w * cin + i) * cout + o];
              assert.ok(Math.abs(got - want) < 1e-6, `${name}[${w},${i},${o}] = ${got}, want ${want}`);
            }
          }
        }
        cin = cout;
      });
    });
    assert.equal(model.gradMultipliers.size, 5);
    assert.ok(![...model.gradMultipliers.keys()].some((n) => !n.startsWith('conv')), 'only convs are multiplied');
  } finally {
    model.dispose();
  }
  const plain = buildModel({ ...spec, reparam: 'none' }, [8, 8, 2], 3, 5);
  assert.equal(plain.gradMultipliers.size, 0);
  plain.dispose();
});
