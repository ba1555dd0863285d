/**
 * MaxPoolGrad for the wasm backend, replacing the stock one: in tfjs 4.22 that one took a
 * large share of a small CNN's training step (docs/PERFORMANCE.md, "Training kernels"). One
 * pass in JS over the NHWC heap data, channels innermost: find each window's max (the first
 * one in row-major window order on ties, as the cpu backend does) and route dy there.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { backend_util, MaxPoolGrad } from '@tensorflow/tfjs';
import { assertFloat32, heapF32, WASM_BACKEND, type WasmKernelArgs } from './wasm_util.ts';

export function maxPoolGrad(args: WasmKernelArgs): TensorInfo {
  const { inputs, backend } = args;
  const { dy, input } = inputs;
  const attrs = args.attrs as unknown as {
    filterSize: [number, number] | number;
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  assertFloat32(MaxPoolGrad, { dy, input });
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;

  const dx = backend.makeOutput(input.shape, 'float32');
  const dxv = heapF32(backend, dx);
  const xv = heapF32(backend, input);
  const dyv = heapF32(backend, dy);
  dxv.fill(0);
  // Per channel: the best value so far in the current window and where it is in x.
  const best = new Float32Array(channels);
  const bestAt = new Int32Array(channels);
  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const ihStart = oh * strideHeight - padTop;
      const ihBegin = Math.max(0, ihStart);
      const ihEnd = Math.min(inHeight, ihStart + filterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const iwStart = ow * strideWidth - padLeft;
        const iwBegin = Math.max(0, iwStart);
        const iwEnd = Math.min(inWidth, iwStart + filterWidth);
        best.fill(Number.NEGATIVE_INFINITY);
        bestAt.fill(-1);
        for (let ih = ihBegin; ih < ihEnd; ih++) {
          for (let iw = iwBegin; iw < iwEnd; iw++) {
            const base = ((n * inHeight + ih) * inWidth + iw) * channels;
            for (let c = 0; c < channels; c++) {
              const value = xv[base + c];
              if (value > best[c]) {
                best[c] = value;
                bestAt[c] = base + c;
              }
            }
          }
        }
        const dyBase = ((n * outHeight + oh) * outWidth + ow) * channels;
        for (let c = 0; c < channels; c++) {
          if (bestAt[c] >= 0) dxv[bestAt[c]] += dyv[dyBase + c];
        }
      }
    }
  }
  return dx;
}

export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: WASM_BACKEND,
  kernelFunc: maxPoolGrad as unknown as KernelFunc,
};
