/**
 * Sum for the wasm backend, wrapping the stock one, for the reduction a bias gradient is:
 * over every axis but the last (dy [N, H, W, C] -> [C]). The stock kernel first transposes
 * the reduced axes to the end (a full copy of dy), then reduces; this is one pass over dy
 * in place, channels innermost, with float64 accumulators. Every other Sum goes to the
 * stock kernel.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { Sum, util } from '@tensorflow/tfjs';
import type { KernelOverride } from './override.ts';
import { heapF32, type WasmKernelArgs } from './wasm-util.ts';

/** True when `axes` (normalised) are exactly 0 .. rank-2. */
function allButLast(axes: readonly number[], rank: number): boolean {
  if (rank < 2 || axes.length !== rank - 1) return false;
  const sorted = [...axes].sort((a, b) => a - b);
  return sorted.every((a, i) => a === i);
}

export const sumOverride: KernelOverride = {
  kernelName: Sum,
  wrap(stock: KernelFunc): KernelFunc {
    const kernelFunc = (args: WasmKernelArgs): TensorInfo | TensorInfo[] => {
      const { x } = args.inputs as { x: TensorInfo };
      const { axis, keepDims = false } = (args.attrs ?? {}) as { axis: number | number[]; keepDims?: boolean };
      const rank = x.shape.length;
      if (x.dtype !== 'float32' || !allButLast(util.parseAxisParam(axis, x.shape), rank)) {
        return stock(args as unknown as Parameters<KernelFunc>[0]);
      }
      const channels = x.shape[rank - 1];
      const out = args.backend.makeOutput(
        keepDims ? [...new Array<number>(rank - 1).fill(1), channels] : [channels],
        'float32',
      );
      // Views after the allocation (it may grow the heap).
      const xv = heapF32(args.backend, x);
      const sums = new Float64Array(channels);
      for (let at = 0; at < xv.length; at += channels) {
        for (let c = 0; c < channels; c++) sums[c] = sums[c] + xv[at + c];
      }
      heapF32(args.backend, out).set(sums);
      return out;
    };
    return kernelFunc as unknown as KernelFunc;
  },
};
