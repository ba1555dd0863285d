/**
 * DepthwiseConv2dNativeBackpropInput for the wasm backend (missing in tfjs 4.22):
 * dx[n, ih, iw, c] = sum over taps and m of dy[n, oh, ow, c·M + m] · w[fh, fw, c, m].
 * Scatters each dy pixel into the input pixels its taps read, channels innermost, in JS on
 * the wasm heap: the cost equals the forward depthwise pass.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { DepthwiseConv2dNativeBackpropInput } from '@tensorflow/tfjs';
import { type DepthwiseGradAttrs, depthwiseConvInfo } from './depthwise-conv-info.ts';
import { assertFloat32, heapF32, WASM_BACKEND, type WasmKernelArgs } from './wasm-util.ts';

export function depthwiseConv2dNativeBackpropInput(args: WasmKernelArgs): TensorInfo {
  const { inputs, backend } = args;
  const { dy, filter } = inputs;
  const attrs = args.attrs as unknown as DepthwiseGradAttrs & { inputShape: number[] };
  assertFloat32(DepthwiseConv2dNativeBackpropInput, { dy, filter });
  const info = depthwiseConvInfo(DepthwiseConv2dNativeBackpropInput, attrs.inputShape, filter.shape, attrs);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const multiplier = outChannels / inChannels;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;

  const dx = backend.makeOutput(info.inShape, 'float32');
  const dxv = heapF32(backend, dx);
  const dyv = heapF32(backend, dy);
  const wv = heapF32(backend, filter);
  dxv.fill(0);
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
            const dxBase = ((n * inHeight + ih) * inWidth + iw) * inChannels;
            const tapBase = (fh * filterWidth + fw) * outChannels;
            if (multiplier === 1) {
              for (let c = 0; c < inChannels; c++) dxv[dxBase + c] += dyv[dyBase + c] * wv[tapBase + c];
            } else {
              for (let c = 0; c < inChannels; c++) {
                const o = c * multiplier;
                let sum = 0;
                for (let m = 0; m < multiplier; m++) sum += dyv[dyBase + o + m] * wv[tapBase + o + m];
                dxv[dxBase + c] += sum;
              }
            }
          }
        }
      }
    }
  }
  return dx;
}

export const depthwiseConv2dNativeBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: WASM_BACKEND,
  kernelFunc: depthwiseConv2dNativeBackpropInput as unknown as KernelFunc,
};
