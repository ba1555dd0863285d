/**
 * Training kernels that tfjs 4.22's wasm backend lacks, plus replacements for stock wasm
 * kernels that are slow or wrong. Registering them lets conv nets (plain and depthwise)
 * and embeddings train on wasm.
 */
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs';
import { batchMatMulOverride } from './batch-mat-mul.ts';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.ts';
import { conv2DBackpropInputOverride } from './conv2d-backprop-input.ts';
import { depthwiseConv2dNativeBackpropFilterConfig } from './depthwise-backprop-filter.ts';
import { depthwiseConv2dNativeBackpropInputConfig } from './depthwise-backprop-input.ts';
import { identityConfig } from './identity.ts';
import { maxPoolGradConfig } from './max-pool-grad.ts';
import type { KernelOverride } from './override.ts';
import { sgdStepConfig } from './sgd-step.ts';
import { sumOverride } from './sum.ts';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.ts';
import { WASM_BACKEND } from './wasm-util.ts';

export const TRAINING_KERNELS: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  unsortedSegmentSumConfig,
  // Not a tfjs kernel: the optimizer's fused update (src/train/sgd.ts), run through runKernel.
  sgdStepConfig,
];

/**
 * Our versions of kernels tfjs 4.22 does ship for wasm. MaxPoolGrad: the stock one
 * disagrees with the cpu backend on a [64, 28, 28, 16] input (max abs diff 1.8) and is
 * slower. Identity: shares its input's data instead of copying it (./identity.ts).
 */
export const REPLACED_KERNELS: readonly KernelConfig[] = [maxPoolGradConfig, identityConfig];

/**
 * Stock wasm kernels we speed up for the cases we cover, falling back to the stock kernel
 * otherwise: Conv2DBackpropInput as a forward XNNPACK Conv2D (the stock one dominated a CNN
 * step: docs/PERFORMANCE.md, "Where a wasm training step goes"), BatchMatMul with transpose
 * flags and without packing (our SIMD GEMM), Sum over all axes but the last (bias
 * gradients) as one pass.
 */
export const OVERRIDDEN_KERNELS: readonly KernelOverride[] = [
  conv2DBackpropInputOverride,
  batchMatMulOverride,
  sumOverride,
];

/** Our wrapped kernelFunc per kernel name, so re-registering does not wrap our own wrapper. */
const installedOverrides = new Map<string, KernelFunc>();
/** The kernels our overrides wrapped, as registered before (benchmarks compare against them). */
const wrappedKernels = new Map<string, KernelConfig>();

/** The wasm kernel an override replaced (undefined before registration or if none was registered). */
export function wrappedWasmKernel(kernelName: string): KernelConfig | undefined {
  return wrappedKernels.get(kernelName);
}

/**
 * Registers our kernels for the wasm backend. Idempotent. A missing kernel that some other
 * code (or a future tfjs) already registered for wasm is left alone; REPLACED_KERNELS
 * always take over; OVERRIDDEN_KERNELS wrap whatever is registered (once). Returns the names it registered.
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
  for (const override of OVERRIDDEN_KERNELS) {
    const stock = getKernel(override.kernelName, WASM_BACKEND);
    if (stock === undefined || stock.kernelFunc === installedOverrides.get(override.kernelName)) continue;
    const kernelFunc = override.wrap(stock.kernelFunc);
    unregisterKernel(override.kernelName, WASM_BACKEND);
    // Keep the stock setupFunc: it binds the wasm function the fallback calls.
    registerKernel({ ...stock, kernelFunc });
    installedOverrides.set(override.kernelName, kernelFunc);
    wrappedKernels.set(override.kernelName, stock);
    added.push(override.kernelName);
  }
  return added;
}
