/**
 * Training kernels that tfjs 4.22's wasm backend lacks. Registering them lets conv nets
 * (plain and depthwise) and embeddings train on wasm.
 */
import type { KernelConfig } from '@tensorflow/tfjs';
import { getKernel, registerKernel } from '@tensorflow/tfjs';
import { conv2DBackpropFilterConfig } from './conv2d_backprop_filter.ts';
import { depthwiseConv2dNativeBackpropFilterConfig } from './depthwise_backprop_filter.ts';
import { depthwiseConv2dNativeBackpropInputConfig } from './depthwise_backprop_input.ts';
import { unsortedSegmentSumConfig } from './unsorted_segment_sum.ts';
import { WASM_BACKEND } from './wasm_util.ts';

export const TRAINING_KERNELS: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  unsortedSegmentSumConfig,
];

/**
 * Registers our kernels for the wasm backend. Idempotent; a kernel some other code (or a
 * future tfjs) already registered for wasm is left alone. Returns the names it registered.
 */
export function registerWasmTrainingKernels(): string[] {
  const added: string[] = [];
  for (const config of TRAINING_KERNELS) {
    if (getKernel(config.kernelName, WASM_BACKEND) !== undefined) continue;
    registerKernel(config);
    added.push(config.kernelName);
  }
  return added;
}
