/**
 * Overrides of stock wasm kernels that are fast for the cases they cover and hand every
 * other call to the stock kernel, which they receive when registered.
 */
import type { KernelFunc } from '@tensorflow/tfjs';

export interface KernelOverride {
  readonly kernelName: string;
  /** Our kernelFunc around the stock one (called for shapes/attributes we do not cover). */
  wrap(stock: KernelFunc): KernelFunc;
}
