/**
 * Training kernels that tfjs 4.22's wasm backend lacks, plus replacements for stock wasm
 * kernels that are slow or wrong. Registering them lets conv nets (plain and depthwise)
 * and embeddings train on wasm.
 */
import type { KernelConfig } from '@tensorflow/tfjs';
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs';
import { conv2DBackpropFilterConfig } from './conv2d_backprop_filter.ts';
import { depthwiseConv2dNativeBackpropFilterConfig } from './depthwise_backprop_filter.ts';
import { depthwiseConv2dNativeBackpropInputConfig } from './depthwise_backprop_input.ts';
import { maxPoolGradConfig } from './max_pool_grad.ts';
import { unsortedSegmentSumConfig } from './unsorted_segment_sum.ts';
import { WASM_BACKEND } from './wasm_util.ts';

export const TRAINING_KERNELS: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  unsortedSegmentSumConfig,
];

/**
 * Our versions of kernels tfjs 4.22 does ship for wasm. MaxPoolGrad: the stock one
 * disagrees with the cpu backend on a [64, 28, 28, 16] input (max abs diff 1.8) and is slower.
 */
export const REPLACED_KERNELS: readonly KernelConfig[] = [maxPoolGradConfig];

/**
 * Registers our kernels for the wasm backend. Idempotent. A missing kernel that some other
 * code (or a future tfjs) already registered for wasm is left alone; REPLACED_KERNELS
 * always take over. Returns the names it registered.
 */
export function registerWasmTrainingKernels(): string[] {
  const added: string[] = [];
  for (const config of TRAINING_KERNELS) {
    if (getKernel(config.kernelName, WASM_BACKEND) !== undefined) continue;
    registerKernel(config);
    added.push(config.kernelName);
  }
  for (const config of REPLACED_KERNELS) {
    const current = getKernel(config.kernelName, WASM_BACKEND);
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current !== undefined) unregisterKernel(config.kernelName, WASM_BACKEND);
    registerKernel(config);
    added.push(config.kernelName);
  }
  return added;
}
