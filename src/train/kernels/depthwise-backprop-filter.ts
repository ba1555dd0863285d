/**
 * DepthwiseConv2dNativeBackpropFilter for the wasm backend (missing in tfjs 4.22):
 * dW[fh, fw, c, m] = sum over (n, oh, ow) of x[n, ih, iw, c] · dy[n, oh, ow, c·M + m].
 * A depthwise filter gradient costs only as much as the forward pass and has no matmul
 * form, so this is one pass over dy in JS with channels innermost (contiguous in NHWC),
 * reading the wasm heap in place and summing in float64.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { DepthwiseConv2dNativeBackpropFilter } from '@tensorflow/tfjs';
import { type DepthwiseGradAttrs, depthwiseConvInfo } from './depthwise-conv-info.ts';
import { assertFloat32, heapF32, WASM_BACKEND, type WasmKernelArgs } from './wasm-util.ts';

export function depthwiseConv2dNativeBackpropFilter(args: WasmKernelArgs): TensorInfo {
  const { inputs, backend } = args;
  const { x, dy } = inputs;
  const attrs = args.attrs as unknown as DepthwiseGradAttrs & { filterShape: number[] };
  assertFloat32(DepthwiseConv2dNativeBackpropFilter, { x, dy });
  const info = depthwiseConvInfo(DepthwiseConv2dNativeBackpropFilter, x.shape, attrs.filterShape, attrs);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const multiplier = outChannels / inChannels;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;

  const sums = new Float64Array(filterHeight * filterWidth * outChannels);
  const dw = backend.makeOutput(info.filterShape, 'float32');
  const xv = heapF32(backend, x);
  const dyv = heapF32(backend, dy);
  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const dyBase = ((n * outHeight + oh) * outWidth + ow) * outChannels;
        for (let fh = 0; fh < filterHeight; fh++) {
          const ih = oh * strideHeight + fh - padTop;
          if (ih < 0 || ih >= inHeight) continue;
          for (let fw = 0; fw < filterWidth; fw++) {
            const iw = ow * strideWidth + fw - padLeft;
            if (iw < 0 || iw >= inWidth) continue;
            const xBase = ((n * inHeight + ih) * inWidth + iw) * inChannels;
            const tapBase = (fh * filterWidth + fw) * outChannels;
            if (multiplier === 1) {
              for (let c = 0; c < inChannels; c++) sums[tapBase + c] += xv[xBase + c] * dyv[dyBase + c];
            } else {
              for (let c = 0; c < inChannels; c++) {
                const xValue = xv[xBase + c];
                const o = c * multiplier;
                for (let m = 0; m < multiplier; m++) sums[tapBase + o + m] += xValue * dyv[dyBase + o + m];
              }
            }
          }
        }
      }
    }
  }
  heapF32(backend, dw).set(sums);
  return dw;
}

export const depthwiseConv2dNativeBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: WASM_BACKEND,
  kernelFunc: depthwiseConv2dNativeBackpropFilter as unknown as KernelFunc,
};
