/**
 * MaxPoolGrad for the wasm backend, replacing the stock one: in tfjs 4.22 that one took a
 * large share of a small CNN's training step (docs/PERFORMANCE.md, "Training kernels"). One
 * pass in JS over the NHWC heap data, channels innermost: find each window's max (the first
 * one in row-major window order on ties, as the cpu backend does) and route dy there.
 * Non-overlapping 2x2 windows without padding (every max-pool of the default CNN) take a
 * loop specialised to the four taps, without per-window bookkeeping arrays.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { backend_util, MaxPoolGrad } from '@tensorflow/tfjs';
import { assertFloat32, heapF32, WASM_BACKEND, type WasmKernelArgs } from './wasm-util.ts';

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
  if (
    filterHeight === 2 &&
    filterWidth === 2 &&
    strideHeight === 2 &&
    strideWidth === 2 &&
    padTop === 0 &&
    padLeft === 0 &&
    2 * outHeight <= inHeight &&
    2 * outWidth <= inWidth
  ) {
    maxPoolGrad2x2(xv, dyv, dxv, batchSize, inHeight, inWidth, channels, outHeight, outWidth);
    return dx;
  }
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

/** The 2x2, stride 2, unpadded case: windows do not overlap, so each dy value lands once. */
function maxPoolGrad2x2(
  xv: Float32Array,
  dyv: Float32Array,
  dxv: Float32Array,
  batchSize: number,
  inHeight: number,
  inWidth: number,
  channels: number,
  outHeight: number,
  outWidth: number,
): void {
  const rowStride = inWidth * channels;
  let dyAt = 0;
  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      let base = (n * inHeight + 2 * oh) * inWidth * channels;
      for (let ow = 0; ow < outWidth; ow++, base += 2 * channels) {
        for (let c = 0; c < channels; c++, dyAt++) {
          // Taps in row-major order; strict > keeps the first on ties and never picks NaN.
          const t0 = base + c;
          const t1 = t0 + channels;
          const t2 = t0 + rowStride;
          const t3 = t2 + channels;
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          let v = xv[t0];
          if (v > best) {
            best = v;
            at = t0;
          }
          v = xv[t1];
          if (v > best) {
            best = v;
            at = t1;
          }
          v = xv[t2];
          if (v > best) {
            best = v;
            at = t2;
          }
          v = xv[t3];
          if (v > best) at = t3;
          if (at >= 0) dxv[at] = dyv[dyAt];
        }
      }
    }
  }
}

export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: WASM_BACKEND,
  kernelFunc: maxPoolGrad as unknown as KernelFunc,
};
