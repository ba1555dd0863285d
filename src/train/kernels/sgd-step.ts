/**
 * One SGD-with-momentum update of one variable as a single pass over its values (wasm
 * backend). The same rule as src/train/sgd.ts, which otherwise issues about 6 tfjs kernels
 * per variable, each allocating a tensor:
 *   g = M * grad + weightDecay * w;  v <- momentum * v + g;  w' = w - learningRate * v
 *
 * Inputs: x (the variable's current value), grad, velocity (updated IN PLACE: it is the
 * optimizer's private state, read by nothing else) and optionally multiplier (RepOpt's
 * constant M). Output: w' in a new tensor, assigned to the variable by the caller. w is not
 * updated in place because the stock BatchMatMul caches packed weights under their tensor
 * id: writing into the same id would leave that cache stale.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { simdSgdFor } from './simd-sgd.ts';
import { heapMemory } from './wasm-asm.ts';
import { assertFloat32, heapF32, WASM_BACKEND, type WasmKernelArgs } from './wasm-util.ts';

export const SGD_STEP = 'MeshflSgdStep';

export interface SgdStepAttrs {
  readonly learningRate: number;
  readonly momentum: number;
  readonly weightDecay: number;
}

function sameSize(a: TensorInfo, b: TensorInfo, what: string): void {
  const size = (t: TensorInfo) => t.shape.reduce((p, d) => p * d, 1);
  if (size(a) !== size(b))
    throw new Error(`${SGD_STEP} (wasm): ${what} has ${size(b)} values, the variable ${size(a)}`);
}

function sgdStep(args: WasmKernelArgs): TensorInfo {
  const { backend } = args;
  const { x, grad, velocity, multiplier } = args.inputs;
  if (x === undefined || grad === undefined || velocity === undefined)
    throw new Error(`${SGD_STEP} (wasm): needs x, grad and velocity`);
  assertFloat32(SGD_STEP, multiplier === undefined ? { x, grad, velocity } : { x, grad, velocity, multiplier });
  sameSize(x, grad, 'grad');
  sameSize(x, velocity, 'velocity');
  if (multiplier !== undefined) sameSize(x, multiplier, 'multiplier');
  const { learningRate, momentum, weightDecay } = args.attrs as unknown as SgdStepAttrs;
  const out = backend.makeOutput([...x.shape], 'float32');
  const n = out.shape.reduce((p, d) => p * d, 1);
  // The SIMD module does all but the last n % 4 values; the JS loop below does the rest (or
  // everything, where WebAssembly SIMD is missing or the case is the rare decay-without-M).
  let done = 0;
  const memory = heapMemory(backend);
  const simd = memory === undefined ? undefined : simdSgdFor(memory);
  if (simd !== undefined && (multiplier !== undefined || weightDecay === 0)) {
    const at = (t: TensorInfo) => backend.getMemoryOffset(t.dataId);
    done = n - (n % 4);
    if (multiplier === undefined) simd.sgd(at(x), at(grad), at(velocity), at(out), done, momentum, learningRate);
    else simd.sgdM(at(x), at(grad), at(velocity), at(out), at(multiplier), done, momentum, learningRate, weightDecay);
  }
  if (done === n) return out;
  // Views only after the allocation above (it may grow the heap).
  const w = heapF32(backend, x);
  const g = heapF32(backend, grad);
  const v = heapF32(backend, velocity);
  const o = heapF32(backend, out);
  const m = multiplier === undefined ? undefined : heapF32(backend, multiplier);
  for (let i = done; i < n; i++) {
    const wi = w[i];
    const gi = (m === undefined ? g[i] : m[i] * g[i]) + weightDecay * wi;
    const vi = momentum * v[i] + gi;
    v[i] = vi;
    o[i] = wi - learningRate * vi;
  }
  return out;
}

export const sgdStepConfig: KernelConfig = {
  kernelName: SGD_STEP,
  backendName: WASM_BACKEND,
  kernelFunc: sgdStep as unknown as KernelFunc,
};
