/** Shared attribute handling for the depthwise convolution gradient kernels. */
import { backend_util } from '@tensorflow/tfjs';

export interface DepthwiseGradAttrs {
  strides: [number, number] | number;
  dilations: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Conv info for a depthwise convolution (NHWC; tfjs has no NCHW depthwise gradient either). */
export function depthwiseConvInfo(
  kernelName: string,
  inShape: number[],
  filterShape: number[],
  attrs: DepthwiseGradAttrs,
): backend_util.Conv2DInfo {
  const info = backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  // tfjs itself refuses depthwise gradients with dilation > 1, so nobody asks for them.
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    throw new Error(`${kernelName} (wasm): dilations other than 1 are not supported, got ${attrs.dilations}`);
  }
  return info;
}
