/**
 * Re-parameterization math on plain arrays (ALGORITHMS.md §3). Kernels use the tfjs
 * layout [kh, kw, in, out], row-major.
 *
 * Structural (RepVGG): a train-time block BN(conv3x3) + BN(conv1x1) + BN(identity) is
 * fused into one 3x3 conv with bias. Gradient (RepOpt): the plain 3x3 conv is trained
 * with per-channel constant gradient multipliers that reproduce the multi-branch
 * block's training dynamics, so peers exchange and merge one tensor per layer.
 */

export interface BatchNormParams {
  readonly gamma: Float32Array;
  readonly beta: Float32Array;
  readonly mean: Float32Array;
  readonly variance: Float32Array;
  readonly epsilon: number;
}

export interface ConvWithBias {
  /** [3, 3, in, out] */
  readonly kernel: Float32Array;
  /** [out] */
  readonly bias: Float32Array;
}

export interface RepVGGBranches {
  readonly inChannels: number;
  readonly outChannels: number;
  /** [3, 3, in, out] */
  readonly kernel3: Float32Array;
  readonly bn3: BatchNormParams;
  /** [1, 1, in, out] */
  readonly kernel1: Float32Array;
  readonly bn1: BatchNormParams;
  /** Present only when in == out and stride 1. */
  readonly bnIdentity?: BatchNormParams;
}

const CENTRE = 4; // index of (1, 1) in a 3x3 window

function kernelIndex(p: number, q: number, i: number, o: number, cin: number, cout: number): number {
  return ((p * 3 + q) * cin + i) * cout + o;
}

/** Adds a BN-fused branch, kernel given as a function of (window index, in, out). */
function addBranch(
  out: ConvWithBias,
  cin: number,
  cout: number,
  bn: BatchNormParams,
  entry: (window: number, i: number, o: number) => number,
): void {
  const kernel = out.kernel;
  const bias = out.bias;
  for (let o = 0; o < cout; o++) {
    const std = Math.sqrt(bn.variance[o] + bn.epsilon);
    const scale = bn.gamma[o] / std;
    bias[o] = bias[o] + bn.beta[o] - bn.mean[o] * scale;
    for (let w = 0; w < 9; w++) {
      for (let i = 0; i < cin; i++) {
        const k = entry(w, i, o);
        if (k !== 0) {
          const idx = kernelIndex(Math.floor(w / 3), w % 3, i, o, cin, cout);
          kernel[idx] = kernel[idx] + k * scale;
        }
      }
    }
  }
}

/** RepVGG: the three branches with their BNs as one 3x3 conv with bias (inference). */
export function fuseRepVGG(b: RepVGGBranches): ConvWithBias {
  const { inChannels: cin, outChannels: cout } = b;
  if (b.kernel3.length !== 9 * cin * cout) throw new RangeError('kernel3 must be [3, 3, in, out]');
  if (b.kernel1.length !== cin * cout) throw new RangeError('kernel1 must be [1, 1, in, out]');
  if (b.bnIdentity && cin !== cout) throw new RangeError('an identity branch needs in == out channels');
  const out: ConvWithBias = { kernel: new Float32Array(9 * cin * cout), bias: new Float32Array(cout) };
  addBranch(out, cin, cout, b.bn3, (w, i, o) => b.kernel3[(w * cin + i) * cout + o]);
  addBranch(out, cin, cout, b.bn1, (w, i, o) => (w === CENTRE ? b.kernel1[i * cout + o] : 0));
  if (b.bnIdentity) addBranch(out, cin, cout, b.bnIdentity, (w, i, o) => (w === CENTRE && i === o ? 1 : 0));
  return out;
}

/**
 * RepOpt constant scales for block `index` (0-based) of a stage: 1 for the first block,
 * sqrt(2 / index) after it (the FedRepOpt default when no hyper-search is run).
 */
export function repOptScale(indexInStage: number): number {
  return indexInStage === 0 ? 1 : Math.sqrt(2 / indexInStage);
}

export interface RepOptScales {
  /** Per-output-channel scale of the 3x3 branch. */
  readonly s: Float32Array;
  /** Per-output-channel scale of the 1x1 branch. */
  readonly t: Float32Array;
  /** Whether the block has an identity branch (in == out, stride 1). */
  readonly identity: boolean;
}

export function uniformScales(cout: number, s: number, t: number, identity: boolean): RepOptScales {
  return { s: new Float32Array(cout).fill(s), t: new Float32Array(cout).fill(t), identity };
}

/**
 * Gradient multiplier M for a plain 3x3 conv [3, 3, in, out]:
 * s_o^2 everywhere, + t_o^2 at the kernel centre, + 1 at the centre where o == i.
 */
export function repOptMultiplier(cin: number, cout: number, sc: RepOptScales): Float32Array {
  if (sc.identity && cin !== cout) throw new RangeError('an identity branch needs in == out channels');
  const m = new Float32Array(9 * cin * cout);
  for (let w = 0; w < 9; w++) {
    for (let i = 0; i < cin; i++) {
      for (let o = 0; o < cout; o++) {
        const s = sc.s[o];
        const t = sc.t[o];
        let v = s * s;
        if (w === CENTRE) v += t * t + (sc.identity && i === o ? 1 : 0);
        m[(w * cin + i) * cout + o] = v;
      }
    }
  }
  return m;
}

/** RepOpt initialisation: W' = s*W3 + t*pad(W1) + identity at the centre diagonal. */
export function repOptInit(
  cin: number,
  cout: number,
  kernel3: Float32Array,
  kernel1: Float32Array,
  sc: RepOptScales,
): Float32Array {
  const w = new Float32Array(9 * cin * cout);
  for (let win = 0; win < 9; win++) {
    for (let i = 0; i < cin; i++) {
      for (let o = 0; o < cout; o++) {
        const idx = (win * cin + i) * cout + o;
        let v = sc.s[o] * kernel3[idx];
        if (win === CENTRE) v += sc.t[o] * kernel1[i * cout + o] + (sc.identity && i === o ? 1 : 0);
        w[idx] = v;
      }
    }
  }
  return w;
}
